"""Generated test data (images, awkward files, CIFAKE-like trees and zips) and running the
command line, shared by the tests (fixtures are in ``conftest.py``)."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from core.data.sources import LABELS, SPLITS
from core.detect.detector import Detector
from core.models.artifacts import Predictor

REPO_ROOT = Path(__file__).resolve().parent.parent


# --- image bytes -------------------------------------------------------------------------------


def random_image(seed: int, shape=(32, 32)) -> np.ndarray:
    """A smooth-ish random RGB image (uint8), different for every seed."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
    image = cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    noise = rng.integers(-20, 21, size=image.shape)
    return np.clip(image.astype(int) + noise, 0, 255).astype(np.uint8)


def encode(image: np.ndarray, ext: str = ".jpg", **params) -> bytes:
    """Encode an RGB (or grayscale) uint8 array with OpenCV (``ext`` like ".jpg", ".png")."""
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    flags = []
    if ext == ".jpg":
        flags = [cv2.IMWRITE_JPEG_QUALITY, params.get("quality", 95)]
    ok, buffer = cv2.imencode(ext, image, flags)
    assert ok
    return buffer.tobytes()


def pil_bytes(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def jpeg(seed: int, shape=(32, 32)) -> bytes:
    return encode(random_image(seed, shape), ".jpg")


def png(seed: int, shape=(32, 32)) -> bytes:
    return encode(random_image(seed, shape), ".png")


def patch_png_size(data: bytes, width: int, height: int) -> bytes:
    """Rewrite a PNG's IHDR width/height (and its CRC) without touching the pixel data."""
    assert data[12:16] == b"IHDR"
    body = bytearray(data[12:29])  # chunk type + 13 bytes of IHDR data
    body[4:12] = struct.pack(">II", width, height)
    crc = struct.pack(">I", zlib.crc32(bytes(body)) & 0xFFFFFFFF)
    return data[:12] + bytes(body) + crc + data[33:]


def bad_input_battery() -> dict[str, tuple[bytes, str | None]]:
    """Awkward files a user may upload: ``{file name: (bytes, expected error or None)}``,
    where None means the file must be readable."""
    big = encode(random_image(4, (64, 64)), ".jpg")
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 255, 0))]
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0], rgba[:8, :, 3] = 200, 255
    return {
        "empty.jpg": (b"", "empty file (0 bytes)"),
        "truncated.jpg": (big[: len(big) // 2], "truncated or corrupt image data"),
        "text.jpg": (b"hello, this is a text file\n", "not an image"),
        "huge.png": (patch_png_size(pil_bytes(Image.new("RGB", (4, 4)), "PNG"), 100_000, 100_000),
                     "too large"),
        "one_pixel.png": (encode(np.full((1, 1, 3), 90, np.uint8), ".png"), None),
        "sixteen_bit.png": (pil_bytes(Image.fromarray(
            np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000), "PNG"), None),
        "cmyk.jpg": (pil_bytes(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG"), None),
        "rgba.png": (encode(rgba, ".png"), None),
        "animated.gif": (pil_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:],
                                   duration=50), None),
    }


# --- trees and zips ----------------------------------------------------------------------------


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    """Write ``{relative posix path: bytes}`` below ``root``; returns ``root``."""
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    """Write ``{member name: bytes}`` into a new zip at ``path``; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def labelled_image(seed: int, fake: bool) -> np.ndarray:
    """A ``random_image``; made brighter and noisier when ``fake``, so that models can learn
    the label."""
    image = random_image(seed).astype(int)
    if fake:
        noise = np.random.default_rng(seed + 7).integers(-25, 26, image.shape)
        image = image // 2 + 110 + noise
    return np.clip(image, 0, 255).astype(np.uint8)


def cifake_files(per_folder: int = 8, *, prefix: str = "", seed: int = 0,
                 separable: bool = False) -> dict[str, bytes]:
    """A CIFAKE-like layout: ``{prefix}{split}/{label}/{i} (k).jpg`` with ``per_folder`` distinct
    32x32 JPEGs per split/label; image ``i`` has class ``i % 10 + 1`` (``i.jpg`` for class 1).
    With ``separable``, FAKE images are ``labelled_image``s that a model can tell apart."""
    files = {}
    for s, split in enumerate(SPLITS):
        for lab, label in enumerate(LABELS):
            for i in range(per_folder):
                k = i % 10 + 1
                name = f"{i}.jpg" if k == 1 else f"{i} ({k}).jpg"
                image_seed = seed + 1000 * (2 * s + lab) + i
                image = (labelled_image(image_seed, bool(lab)) if separable
                         else random_image(image_seed))
                files[f"{prefix}{split}/{label}/{name}"] = encode(image, ".jpg")
    return files


# --- stand-in models --------------------------------------------------------------------------


class Brightness:
    """A stand-in classifier: P(FAKE) is the mean pixel value (0-1)."""

    def predict_proba(self, x):
        p = x.mean(axis=1)
        return np.stack([1 - p, p], axis=1)


class Contrast:
    """A stand-in classifier: P(FAKE) grows with pixel-to-pixel differences (blur lowers it)."""

    def predict_proba(self, x):
        images = x.reshape(len(x), 32, 32, 3)
        p = np.clip(np.abs(np.diff(images, axis=2)).mean(axis=(1, 2, 3)), 0, 1)
        return np.stack([1 - p, p], axis=1)


def stand_in_detector(contrast_threshold: float = 0.5) -> Detector:
    """A detector of the stand-ins "bright" (threshold 0.5) and "contrast", both averaged by
    the ensemble."""
    predictors = {"bright": Predictor("bright", "classical", Brightness(), 32),
                  "contrast": Predictor("contrast", "classical", Contrast(), 32)}
    return Detector(predictors, {"bright": 0.5, "contrast": contrast_threshold},
                    ["bright", "contrast"], 32, {"bright": "classical", "contrast": "classical"})


# --- the command line --------------------------------------------------------------------------


def run_cli(*args, cache_dir: Path | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -m core ARGS`` as users run it, from the repository root; ``cache_dir`` replaces
    the decoded-array cache (``CIFAKE_CACHE``)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    if cache_dir is not None:
        env["CIFAKE_CACHE"] = str(cache_dir)
    return subprocess.run([sys.executable, "-m", "core", *map(str, args)], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)


def cli(*args) -> subprocess.CompletedProcess:
    """``python -m core ARGS`` run in this process (the same ``core.cli.main``, its exit status
    and output captured): for commands that need TensorFlow, already loaded here, where a new
    interpreter would spend seconds importing it again. The decoded-array cache is the
    default one."""
    from core.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse's usage errors and --help
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return subprocess.CompletedProcess(["python", "-m", "core", *map(str, args)], code,
                                       out.getvalue(), err.getvalue())


def free_port() -> int:
    """A loopback port nothing listens on (free for a server to take)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def watch_until_finished(run, timeout: float = 240) -> None:
    """Keep a Training lab run's heartbeat going, as the page's live chart does, until it has
    finished or ``timeout`` seconds have passed."""
    end = time.monotonic() + timeout
    while not run.finished and time.monotonic() < end:
        run.heartbeat()
        time.sleep(0.2)


# --- a model saved from the Training lab ---------------------------------------------------------


def save_lab_model(folder: Path, name: str = "lab_cnn"):
    """A tiny knob-built CNN trained for one epoch and saved by the Training lab into
    ``folder/models`` (evaluated like any model): ``(models_dir, name, dataset)``."""
    from core.data.dataset import load_dataset
    from core.labs.training import Runner, save_run
    from core.models.knobs import Knobs
    from core.models.quicktrain import TrainSettings

    dataset = load_dataset(write_zip(folder / "tiny.zip", cifake_files(60, separable=True)),
                           cache_dir=None)
    run = Runner(slots=1, n_test=40, heartbeat_timeout=600).start(
        Knobs(conv_blocks=2, filters=4, dense_layers=1, neurons=8),
        TrainSettings(epochs=1, batch_size=16, n_train=100), dataset)
    run.join(120)
    save_run(run, name, dataset, models_dir=folder / "models")
    return folder / "models", name, dataset
# --- the app in AppTest ------------------------------------------------------------------------


def grid_captions(at) -> list[str]:
    """The captions of every image of the page's image grids (one HTML element each), in order."""
    import html
    import re

    return [html.unescape(c) for e in at.get("html")
            for c in re.findall(r"<figcaption[^>]*>(.*?)</figcaption>", e.proto.body)]


def open_tab(at, tab: str, key: str = "tab"):
    """Switch the page's tabs (kept in the URL under ``key``) to ``tab`` for the next run, as a
    click does: the widget's value and the URL together."""
    at.session_state[key] = tab
    at.query_params[key] = tab
    return at
