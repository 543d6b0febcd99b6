"""Keras model builders: structure, sizes, and that they learn."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from core.models.deep import BACKBONES, BUILDERS, LAST_CONV, build_model, penultimate_layer  # noqa: E402


@pytest.fixture(scope="module")
def built():
    """Every builder's model at 32x32, built once."""
    return {name: build_model(name) for name in BUILDERS}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_builder_structure(built, name):
    model = built[name]
    assert isinstance(model, keras.Model)
    assert not isinstance(model, keras.Sequential)
    assert model.name == name
    assert tuple(model.input_shape) == (None, 32, 32, 3)
    assert tuple(model.output_shape) == (None, 1)
    assert isinstance(model.get_layer(LAST_CONV), keras.layers.Conv2D)
    assert len(penultimate_layer(model).output.shape) == 2  # a flat embedding per image


@pytest.mark.parametrize("name", list(BUILDERS))
def test_builder_outputs_probabilities(built, name):
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)).astype(np.float32)
    images[0] = 0
    images[1] = 255  # extremes of the 0-255 input range
    p = np.asarray(built[name](images, training=False))
    assert p.shape == (4, 1)
    assert np.all((p >= 0) & (p <= 1)) and np.all(np.isfinite(p))


def test_reference_cnn_params(built):
    assert built["reference_cnn"].count_params() == 355_649


@pytest.mark.parametrize("name", ["ours", "bn5_cnn", "lenet"])
def test_other_input_size(name):
    model = build_model(name, (48, 48, 3))
    assert tuple(model.input_shape) == (None, 48, 48, 3)
    p = np.asarray(model(np.full((2, 48, 48, 3), 100, np.float32), training=False))
    assert p.shape == (2, 1) and np.all((p >= 0) & (p <= 1))
    assert isinstance(model.get_layer(LAST_CONV), keras.layers.Conv2D)


def _bright_fake(n=64, seed=0):
    """FAKE images bright, REAL images dark, with noise."""
    rng = np.random.default_rng(seed)
    y = np.tile([0.0, 1.0], n // 2).astype(np.float32)
    base = np.where(y[:, None, None, None] == 1, 170.0, 80.0)
    x = np.clip(base + rng.normal(0, 30, (n, 32, 32, 3)), 0, 255).astype(np.float32)
    return x, y


@pytest.mark.parametrize("name", ["lenet", "reference_cnn"])
def test_loss_falls(name):
    keras.utils.set_random_seed(0)
    model = build_model(name)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    x, y = _bright_fake()
    initial = float(model.evaluate(x, y, verbose=0, batch_size=64))
    for _ in range(15):
        model.train_on_batch(x, y)
    final = float(model.evaluate(x, y, verbose=0, batch_size=64))
    assert final < initial
    assert final < 0.6  # learned something, not just noise


@pytest.mark.parametrize("name", ["efficientnetb0", "resnet50"])
def test_backbone_from_scratch(name):
    model = build_model(name, (32, 32, 3))
    assert isinstance(model, keras.Model) and model.name == name
    assert tuple(model.output_shape) == (None, 1)
    assert penultimate_layer(model).name == "features"
    p = np.asarray(model(np.full((1, 32, 32, 3), 128, np.float32), training=False))
    assert p.shape == (1, 1) and 0 <= p[0, 0] <= 1


def _small_backbone(include_top, weights, input_shape):
    """A stand-in for a keras.applications network: one small convolution."""
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, keras.layers.Conv2D(4, 3)(inputs))


def test_caffe_preprocess_is_bgr_minus_means(monkeypatch):
    monkeypatch.setattr(keras.applications, "VGG16", _small_backbone)  # the head, not VGG16
    model = build_model("vgg16", (32, 32, 3))
    assert model.count_params() < 1000
    layer = model.get_layer("caffe_preprocess")
    assert not layer.trainable
    rgb = np.array([[[[10.0, 20.0, 30.0]]]], np.float32)
    out = np.asarray(layer(rgb))[0, 0, 0]
    np.testing.assert_allclose(out, [30 - 103.939, 20 - 116.779, 10 - 123.68], atol=1e-4)


def test_weights_only_for_backbones():
    assert "lenet" not in BACKBONES
    with pytest.raises(ValueError, match="applies to backbones"):
        build_model("lenet", weights="x")


def test_unknown_model():
    with pytest.raises(ValueError, match="unknown backbone 'alexnet'"):
        build_model("alexnet")


@pytest.mark.parametrize("name, width, params", [
    ("flagship", None, 1_565_713), ("flagship", 24, 393_481),
    ("scanner", None, 70_449), ("scanner", 12, 39_877),
])
def test_widenable_params(name, width, params):
    """The shipped widths are the defaults (flagship 48, scanner 16); a width scales them."""
    assert build_model(name, width=width).count_params() == params


def test_width_only_for_widenable():
    with pytest.raises(ValueError, match="--width applies to"):
        build_model("reference_cnn", width=32)
