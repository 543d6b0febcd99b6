"""What the data looks like: per-image features, dataset statistics, 2-D embeddings, the
committed summary of the real CIFAKE, and the plotly figures of all of these.

Belongs here: descriptions of images that need no trained model. Not here: reading or decoding
files (``core.data``), training or scoring models (``core.models``, ``core.detect``).
"""
