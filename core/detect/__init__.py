"""Using the shipped models on images: preprocessing, every model's P(FAKE) and verdict with the
inconclusive band, the ensemble, the off-distribution check (abstention), the stability check,
tiled analysis, batch scanning, heat maps, and the figures of verdicts.

Belongs here: what the Check an image and Batch scan pages and ``python -m core predict`` need.
Not here: training or evaluating models (``core.models``), experiments over a test set
(``core.labs``).
"""
