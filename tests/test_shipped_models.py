"""The models trained on a GPU under Keras' JAX backend score the same in TensorFlow on CPU.

Each such report holds ``backend_check``: the raw P(FAKE) that the JAX backend gave for 16 CIFAKE
test images (``python`` with ``KERAS_BACKEND=jax``, recorded when the model was shipped).
"""

from __future__ import annotations

import numpy as np
import pytest

from core.data.dataset import CACHE_DIR, load_dataset
from core.models.artifacts import MODELS_DIR, list_reports, load_predictor

pytestmark = pytest.mark.real_data

CHECKED = [r["name"] for r in list_reports() if "backend_check" in r]


@pytest.fixture(scope="module")
def dataset(cifake_zip):
    return load_dataset(cifake_zip, cache_dir=CACHE_DIR)


def test_gpu_models_are_checked():
    assert {"flagship", "flagship_robust", "scanner"} <= set(CHECKED)


@pytest.mark.parametrize("name", CHECKED)
def test_tensorflow_scores_match_jax(dataset, name):
    import keras

    assert keras.backend.backend() == "tensorflow"
    check = next(r for r in list_reports() if r["name"] == name)["backend_check"]
    assert check["backend"] == "jax"
    rows = dataset.rows_of(check["paths"])
    assert (rows >= 0).all() and len(rows) == 16
    raw = load_predictor(name, MODELS_DIR, calibrated=False).predict(dataset.images[rows])
    np.testing.assert_allclose(raw, check["p_fake_raw"], atol=1e-4)
    assert np.ptp(raw) > 0.5  # real and fake images, not one constant score
