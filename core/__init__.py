"""CIFAKE Explorer core: data, statistics, models, prediction and labs, free of any UI code.

Layers, each importing only the ones listed before it (never Streamlit):

- ``core.errors``, ``core.progress``: errors shown to users and progress callbacks (any layer);
- ``core.data``: find, list, decode, cache and degrade images;
- ``core.analysis``: per-image features, dataset statistics, embeddings and their figures;
- ``core.models``: model builders, training, evaluation, metrics, model files, comparison;
- ``core.detect``: scoring images with the shipped models, verdicts, stability, heat maps;
- ``core.labs``: the filters, robustness and adversarial labs and the human-vs-machine quiz;
- ``core.cli``: the command line, ``python -m core <command>``.
"""

__all__ = ["DataError"]

from core.errors import DataError
