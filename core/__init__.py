"""CIFAKE Explorer core: data, statistics, models, prediction and labs, free of any UI code.

Layers, each importing only the ones listed before it (never Streamlit):

- ``core.errors``, ``core.progress``: errors shown to users and progress callbacks (any layer);
- ``core.data``: find, list, decode, cache and degrade images;
- ``core.analysis``: per-image features, dataset statistics, embeddings and their figures;
- ``core.models``: model builders, training (also short runs from knobs, sweeps, our own
  generators), evaluation, metrics, model files, comparison and model cards;
- ``core.detect``: scoring images with the shipped models: the detector and its verdicts, the
  off-distribution score (and its fit), the stability check, tiles, scanning files, heat maps;
- ``core.labs``: experiments over the test set: the filters, robustness, adversarial and
  generalization labs, the off-distribution and stability studies, the Training lab's runner,
  evaluation on your own images and the human-vs-machine quiz;
- ``core.serve``: the prediction service (FastAPI) over ``core.detect``;
- ``core.cli``: the command line, ``python -m core <command>`` (also ``cifake <command>``).
"""

__all__ = ["DataError"]

from core.errors import DataError
