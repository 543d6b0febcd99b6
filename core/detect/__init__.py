"""Using the shipped models on images: the detector (preprocessing, every model's P(FAKE) and
verdict with the inconclusive band, the ensemble; ``detector``), the off-distribution check
(abstention; ``ood``, fitted by ``ood_fit``), the stability check (``stability``), tiled analysis
(``tiles``), scanning files into rows (``scanning``; on a Dask cluster: ``cluster_scan``), heat
maps (``explain``), and the figures of verdicts (``verdict_figures``).

Belongs here: what the Check an image and Batch scan pages and ``python -m core predict`` need.
Not here: training or evaluating models (``core.models``), experiments over a test set
(``core.labs``).
"""
