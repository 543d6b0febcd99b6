"""Shared fixtures: a tiny generated zip, the real CIFAKE zip and a tiny trained CNN."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO_ROOT, cifake_files, write_zip

# training checkpoints go to a folder of this test process (commands run by tests inherit it):
# never the user's data/checkpoints, never another test process's
_CHECKPOINTS = tempfile.mkdtemp(prefix="cifake-test-checkpoints-")
os.environ["CIFAKE_CHECKPOINTS"] = _CHECKPOINTS
atexit.register(shutil.rmtree, _CHECKPOINTS, ignore_errors=True)


@pytest.fixture
def tiny_zip(tmp_path) -> Path:
    """8 distinct JPEGs in each of train/REAL, train/FAKE, test/REAL, test/FAKE."""
    return write_zip(tmp_path / "tiny.zip", cifake_files(8))


@pytest.fixture(scope="session")
def cifake_zip() -> Path:
    """The real CIFAKE zip: ``$CIFAKE_PATH`` or ``<repo>/../shared/data/cifake.zip``."""
    path = Path(os.environ.get("CIFAKE_PATH")
                or REPO_ROOT.parent / "shared" / "data" / "cifake.zip")
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CIFAKE must be present in CI (looked at {path}; set CIFAKE_PATH).")
        pytest.skip(f"real CIFAKE not found at {path}; "
                    "set CIFAKE_PATH to run the integration tests")
    return path


@pytest.fixture(scope="session")
def tiny_cnn():
    """A LeNet trained for a few seconds to call bright images FAKE: ``(model, images, labels)``
    with 64 float32 training images (0-255) and their 0/1 labels."""
    keras = pytest.importorskip("keras")
    from core.models.deep import build_model

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (64, 32, 32, 3)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 127).astype(np.float32)
    model = build_model("lenet")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    model.fit(x, y, epochs=3, verbose=0)
    return model, x, y


def pytest_collection_modifyitems(items):
    """Every test that reads the real CIFAKE carries the ``real_data`` marker."""
    unmarked = [item.nodeid for item in items if "cifake_zip" in getattr(item, "fixturenames", ())
                and item.get_closest_marker("real_data") is None]
    if unmarked:
        raise pytest.UsageError(f"mark these tests real_data: {unmarked}")
