"""The project's own image generators, trained on CIFAKE's REAL training images only.

- ``gan``: a DCGAN (transposed-convolution generator, strided-convolution discriminator) that
  samples new 32x32 images from random codes;
- ``vae``: a convolutional variational autoencoder whose reconstructions of REAL images are
  "fakes with real content": the generator's fingerprint without a change of content.

Every generated image goes through the same JPEG q75 encoder as CIFAKE's files (standard IJG
tables, the ones all 120,000 CIFAKE files use), so a detector cannot tell sources apart by the
compression alone. Sampling is deterministic: the same weights, ``seed`` and inputs give the same
images. A generator is saved as ``models/generators/NAME.keras`` with float16 weights (half the
size; the float32 twin it is loaded into scores the same to within JPEG rounding) and a report
``NAME.json`` like the detectors'.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.data.files import write_atomic
from core.data.imageio import CIFAKE_JPEG_QUALITY, png_bytes, tile
from core.data.perturb import jpeg
from core.models.artifacts import MODELS_DIR, read_report, save_keras, sha256, write_report
from core.progress import ProgressFn, silent

__all__ = ["GENERATORS", "GENERATORS_DIR", "GeneratorConfig", "JPEG_QUALITY", "Generator",
           "build_gan", "build_vae", "load_generator", "train_generator", "write_preview"]

GENERATORS = ("gan", "vae")
GENERATORS_DIR = MODELS_DIR / "generators"
JPEG_QUALITY = CIFAKE_JPEG_QUALITY
PREVIEW = (4, 8)  # rows and columns of a generator's committed preview grid
LATENT = 128


def _gan_generator(latent: int, width: int):
    import keras
    from keras import layers

    z = keras.Input((latent,), name="z")
    x = layers.Dense(4 * 4 * 4 * width, use_bias=False)(z)
    x = layers.Reshape((4, 4, 4 * width))(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    for filters in (2 * width, width):  # 4 -> 8 -> 16
        x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    x = layers.Conv2DTranspose(3, 4, strides=2, padding="same", activation="tanh",
                               name="image")(x)  # 16 -> 32, values in [-1, 1]
    return keras.Model(z, x, name="gan_generator")


def _gan_discriminator(width: int):
    import keras
    from keras import layers

    image = keras.Input((32, 32, 3), name="image")
    x = image
    for i, filters in enumerate((width, 2 * width, 4 * width)):  # 32 -> 16 -> 8 -> 4
        x = layers.Conv2D(filters, 4, strides=2, padding="same")(x)
        if i:
            x = layers.BatchNormalization()(x)
        x = layers.LeakyReLU(0.2)(x)
    x = layers.Flatten()(x)
    return keras.Model(image, layers.Dense(1, name="logit")(x), name="gan_discriminator")


def build_gan(width: int = 64, latent: int = LATENT):
    """A DCGAN for 32x32 RGB: (generator z -> image in [-1, 1], discriminator image -> logit)."""
    return _gan_generator(latent, width), _gan_discriminator(width)


def _vae_encoder(latent: int, width: int):
    import keras
    from keras import layers

    image = keras.Input((32, 32, 3), name="image")
    x = image
    for filters in (width, 2 * width, 4 * width):  # 32 -> 16 -> 8 -> 4
        x = layers.Conv2D(filters, 4, strides=2, padding="same")(x)
        x = layers.LeakyReLU(0.2)(x)
    x = layers.Flatten()(x)
    return keras.Model(image, [layers.Dense(latent, name="mean")(x),
                               layers.Dense(latent, name="log_var")(x)], name="vae_encoder")


def _vae_decoder(latent: int, width: int):
    import keras
    from keras import layers

    z = keras.Input((latent,), name="z")
    x = layers.Dense(4 * 4 * 4 * width, activation="relu")(z)
    x = layers.Reshape((4, 4, 4 * width))(x)
    for filters in (2 * width, width):
        x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2DTranspose(3, 4, strides=2, padding="same", activation="tanh",
                               name="image")(x)
    return keras.Model(z, x, name="vae_decoder")


def build_vae(width: int = 32, latent: int = LATENT):
    """A convolutional VAE for 32x32 RGB: (encoder image -> (mean, log variance), decoder
    z -> image), images in [-1, 1]."""
    return _vae_encoder(latent, width), _vae_decoder(latent, width)


@dataclass
class GeneratorConfig:
    """Everything that defines a generator's training run (saved in its report)."""

    kind: str
    name: str = ""
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 2e-4
    width: int = 0  # 0: the kind's default (gan 64, vae 32)
    latent: int = LATENT
    beta: float = 1.0  # weight of the VAE's KL term
    seed: int = 0
    limit: int | None = None  # train on at most this many REAL images
    command: str = ""

    def __post_init__(self):
        if self.kind not in GENERATORS:
            raise ValueError(f"unknown generator {self.kind!r}; choose from {GENERATORS}")
        self.name = self.name or self.kind
        self.width = self.width or (64 if self.kind == "gan" else 32)


def _to_unit(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32) / 127.5 - 1.0


def _to_uint8(x) -> np.ndarray:
    scaled = np.round((np.asarray(x, dtype=np.float32) + 1.0) * 127.5)
    return np.clip(scaled, 0, 255).astype(np.uint8)


def train_generator(config: GeneratorConfig, real_images: np.ndarray, *,
                    out_dir: str | os.PathLike = GENERATORS_DIR,
                    progress: ProgressFn = silent) -> dict:
    """Train a generator on uint8 REAL images (n, 32, 32, 3), save it (float16 weights) and its
    report atomically; returns the report."""
    import keras
    import tensorflow as tf  # the adversarial and variational losses need a custom step

    if real_images.shape[1:] != (32, 32, 3):
        raise ValueError(f"generators learn 32x32 RGB images, not {real_images.shape[1:]}")
    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    images = real_images
    if config.limit is not None and config.limit < len(images):
        images = images[np.sort(rng.choice(len(images), config.limit, replace=False))]
    data = _to_unit(images)
    steps = len(data) // config.batch_size
    if steps == 0:
        raise ValueError(f"{len(data)} images are fewer than one batch of {config.batch_size}")
    step = _STEPS[config.kind](config, tf, keras)
    history: dict[str, list[float]] = {}
    start = time.perf_counter()
    for epoch in range(config.epochs):
        order = rng.permutation(len(data))
        sums: dict[str, float] = {}
        for i in range(steps):
            batch = tf.constant(data[order[i * config.batch_size:(i + 1) * config.batch_size]])
            for key, value in step.run(batch).items():
                sums[key] = sums.get(key, 0.0) + float(value)
            if i % 20 == 0 or i == steps - 1:
                progress((epoch + (i + 1) / steps) / config.epochs,
                         f"{config.kind}: epoch {epoch + 1}/{config.epochs}")
        for key, total in sums.items():
            history.setdefault(key, []).append(round(total / steps, 5))
    seconds = time.perf_counter() - start
    sampler = _sampler(config.kind, config.width, config.latent, step.models)
    path = _save_half(sampler, config, Path(out_dir) / f"{config.name}.keras")
    report = {
        "name": config.name,
        "kind": config.kind,
        "file": path.name,
        "file_mb": round(path.stat().st_size / 2**20, 3),
        "sha256": sha256(path),
        "params": int(sampler.count_params()),
        "params_trained": int(sum(m.count_params() for m in step.models)),
        "data": {"images": "CIFAKE train REAL (never FAKE)", "n_train": int(len(data))},
        "training": {**asdict(config), "history": history, "seconds": round(seconds, 1),
                     "images_per_second": round(config.epochs * steps * config.batch_size
                                                / seconds, 1)},
    }
    write_report(report, out_dir)
    write_preview(config.name, out_dir)
    return report


def write_preview(name: str, generators_dir: str | os.PathLike = GENERATORS_DIR) -> Path:
    """Write ``NAME_preview.png``: a grid of the generator's images for seed 0 (a VAE's
    decoder images from random codes, since its reconstructions need REAL images)."""
    generator = load_generator(name, generators_dir)
    rows, columns = PREVIEW
    images = generator.sample(rows * columns, seed=0) if generator.kind == "gan" else \
        generator.decode(rows * columns, seed=0)
    return write_atomic(Path(generators_dir) / f"{name}_preview.png",
                        png_bytes(tile(images, columns)))


class _GanStep:
    """One DCGAN update (non-saturating loss, Adam beta1 0.5) as a compiled TensorFlow step."""

    def __init__(self, config, tf, keras):
        self.models = build_gan(config.width, config.latent)
        g_opt = keras.optimizers.Adam(config.learning_rate, beta_1=0.5)
        d_opt = keras.optimizers.Adam(config.learning_rate, beta_1=0.5)
        bce = keras.losses.BinaryCrossentropy(from_logits=True)
        latent, (gen, disc) = config.latent, self.models

        @tf.function
        def run(real):
            z = tf.random.normal((tf.shape(real)[0], latent))
            with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
                fake = gen(z, training=True)
                real_logit = disc(real, training=True)
                fake_logit = disc(fake, training=True)
                d_loss = (bce(tf.ones_like(real_logit) * 0.9, real_logit)  # one-sided smoothing
                          + bce(tf.zeros_like(fake_logit), fake_logit))
                g_loss = bce(tf.ones_like(fake_logit), fake_logit)
            d_opt.apply_gradients(zip(d_tape.gradient(d_loss, disc.trainable_variables),
                                      disc.trainable_variables))
            g_opt.apply_gradients(zip(g_tape.gradient(g_loss, gen.trainable_variables),
                                      gen.trainable_variables))
            return {"d_loss": d_loss, "g_loss": g_loss}

        self.run = run


class _VaeStep:
    """One VAE update (squared error summed over pixels + beta * KL) as a compiled step."""

    def __init__(self, config, tf, keras):
        encoder, decoder = self.models = build_vae(config.width, config.latent)
        opt = keras.optimizers.Adam(config.learning_rate)
        beta = config.beta
        variables = encoder.trainable_variables + decoder.trainable_variables

        @tf.function
        def run(real):
            with tf.GradientTape() as tape:
                mean, log_var = encoder(real, training=True)
                z = mean + tf.exp(0.5 * log_var) * tf.random.normal(tf.shape(mean))
                recon = decoder(z, training=True)
                rec = tf.reduce_mean(tf.reduce_sum(tf.square(recon - real), axis=[1, 2, 3]))
                kl = tf.reduce_mean(-0.5 * tf.reduce_sum(
                    1 + log_var - tf.square(mean) - tf.exp(log_var), axis=1))
                loss = rec + beta * kl
            opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return {"loss": loss, "reconstruction": rec, "kl": kl}

        self.run = run


_STEPS: dict[str, type[_GanStep] | type[_VaeStep]] = {"gan": _GanStep, "vae": _VaeStep}


def _sampler(kind: str, width: int, latent: int, parts=None):
    """The model that makes images: the GAN's generator (z -> image), or the VAE's encoder and
    decoder joined with its reparameterisation ([image, noise] -> reconstruction)."""
    import keras
    from keras import layers

    if kind == "gan":
        return parts[0] if parts else _gan_generator(latent, width)
    encoder, decoder = parts or (_vae_encoder(latent, width), _vae_decoder(latent, width))
    image, noise = keras.Input((32, 32, 3), name="image"), keras.Input((latent,), name="noise")
    mean, log_var = encoder(image)
    sigma = layers.Activation("exponential")(layers.Rescaling(0.5)(log_var))
    z = layers.Add()([mean, layers.Multiply()([sigma, noise])])
    return keras.Model([image, noise], decoder(z), name="vae")


def _save_half(model, config: GeneratorConfig, path: Path) -> Path:
    """Save ``model``'s architecture with float16 weights."""
    import keras

    keras.config.set_dtype_policy("float16")
    try:
        half = _sampler(config.kind, config.width, config.latent)
    finally:
        keras.config.set_dtype_policy("float32")
    half.set_weights([w.astype(np.float16) for w in model.get_weights()])
    return save_keras(half, path)


@dataclass
class Generator:
    """A loaded generator that makes uint8 RGB 32x32 JPEG-q75 images.

    Attributes
    ----------
    name, kind : str
    model : keras.Model
        The float32 sampling model (see ``_sampler``).
    latent : int
    sha256 : str
        Digest of the generator's file: the version that caches of its samples key on.
    """

    name: str
    kind: str
    model: Any
    latent: int
    sha256: str

    def sample(self, n: int, seed: int, *, images: np.ndarray | None = None,
               progress: ProgressFn = silent) -> np.ndarray:
        """``n`` images as CIFAKE stores them (decoded from JPEG q75), the same for the same
        ``seed`` (and, for a VAE, the same ``images`` to reconstruct: uint8 (n, 32, 32, 3))."""
        return jpeg(self.raw(n, seed, images=images, progress=progress), JPEG_QUALITY)

    def decode(self, n: int, seed: int) -> np.ndarray:
        """A VAE decoder's images from ``n`` random codes (seeded), JPEG q75 like ``sample``."""
        codes = np.random.default_rng(seed).standard_normal((n, self.latent)).astype(np.float32)
        decoder = self.model.get_layer("vae_decoder")
        return jpeg(_to_uint8(decoder(codes, training=False)), JPEG_QUALITY)

    def raw(self, n: int, seed: int, *, images: np.ndarray | None = None,
            batch_size: int = 500, progress: ProgressFn = silent) -> np.ndarray:
        """The generator's uint8 output before JPEG compression (see ``sample``)."""
        if self.kind == "vae" and (images is None or len(images) != n):
            raise ValueError("a VAE makes reconstructions: pass the n REAL images to rebuild")
        codes = np.random.default_rng(seed).standard_normal((n, self.latent)).astype(np.float32)
        out = np.empty((n, 32, 32, 3), np.uint8)
        for start in range(0, n, batch_size):
            stop = min(n, start + batch_size)
            z = codes[start:stop]
            inputs: np.ndarray | list[np.ndarray] = z
            if self.kind != "gan":
                assert images is not None  # a VAE's images were checked above
                inputs = [_to_unit(images[start:stop]), z]
            out[start:stop] = _to_uint8(self.model(inputs, training=False))
            progress(stop / n, f"{self.name}: {stop:,}/{n:,} images")
        return out


def load_generator(name: str, generators_dir: str | os.PathLike = GENERATORS_DIR) -> Generator:
    """Load generator ``name`` (safe mode) into a float32 model; its file's sha256 must match
    its report's."""
    import keras

    report = read_report(name, generators_dir)
    path = Path(generators_dir) / report["file"]
    digest = sha256(path)
    if digest != report["sha256"]:
        raise ValueError(f"{path.name} does not match the sha256 in its report; retrain it")
    config = report["training"]
    half = keras.saving.load_model(path, safe_mode=True, compile=False)
    model = _sampler(report["kind"], config["width"], config["latent"])
    model.set_weights([w.astype(np.float32) for w in half.get_weights()])
    return Generator(name, report["kind"], model, config["latent"], digest)
