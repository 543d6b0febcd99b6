"""Using the shipped models on images: the detector (preprocessing, every model's P(FAKE) and
verdict with the inconclusive band, the ensemble; ``detector``), the off-distribution check
(abstention; ``ood``, fitted by ``ood_fit``), the stability check (``stability``), tiled analysis
(``tiles``), scanning files into rows (``scanning``; on a Dask cluster: ``cluster_scan``), heat
maps (``explain``), the figures of verdicts (``verdict_figures``), and what every block of a
CNN computes on an image (``inside``, ``inside_conv``, ``inside_images``, ``inside_figures``).

Belongs here: what the Check an image, Batch scan and Inside the CNN pages and
``python -m core predict`` need.
Not here: training or evaluating models (``core.models``), experiments over a test set
(``core.labs``).
"""
