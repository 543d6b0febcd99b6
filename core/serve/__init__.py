"""The prediction service: the detectors of Check an image and Batch scan over HTTP.

``core.serve.service`` holds the loaded models and does the work (scan rows, heat-map PNGs)
without any web framework; ``core.serve.app`` puts it behind FastAPI routes with authentication
and limits. ``python -m core serve`` starts it with uvicorn.
"""
