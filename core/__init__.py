"""CIFAKE Explorer core: data, statistics, models, prediction and labs, free of any UI code.

Layers, each importing only the ones listed before it (never Streamlit):

- ``core.errors``, ``core.progress``: errors shown to users and progress callbacks (any layer);
- ``core.data``: find, list, decode, cache and degrade images;
- ``core.analysis``: per-image features, dataset statistics, embeddings and their figures;
- ``core.models``: model builders, training (also short runs from knobs, sweeps, our own
  generators), evaluation, test-time augmentation and the weighted ensemble, metrics, model
  files, comparison and model cards;
- ``core.detect``: scoring images with the shipped models: the detector and its verdicts, the
  off-distribution score (and its fit), the stability check, tiles, scanning files (also on a
  cluster), heat maps, and what every block of a CNN computes on an image;
- ``core.labs``: experiments over the test set: the filters, robustness, adversarial and
  generalization labs, the off-distribution and stability studies, the Training lab's runner,
  evaluation on your own images, the human-vs-machine quiz and its store, lessons, and what
  each CNN channel responds to;
- ``core.serve``: the prediction service (FastAPI) over ``core.detect``, in one or N processes;
- ``core.cli``: the command line, ``python -m core <command>`` (also ``cifake <command>``).
"""

__all__ = ["DataError"]

from core.errors import DataError
