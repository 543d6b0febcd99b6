"""The prediction service: the verdicts and heat maps of Check an image and Batch scan over HTTP
for programs (``python -m core serve``).

``core.serve.service`` holds the loaded models and does the work (scan rows, heat-map PNGs)
without any web framework; ``core.serve.app`` puts it behind FastAPI routes with authentication
and limits; ``core.serve.launch`` starts it in this process or in N worker processes.

Belongs here: serving ``core.detect`` over HTTP. Not here: how an image is scored or explained
(``core.detect``), starting the server from the command line (``core.cli.serve``).
"""
