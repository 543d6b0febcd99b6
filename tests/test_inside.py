"""Inside the CNN: blocks of a model, activations, the convolution arithmetic, filters, the
channel statistics and their disk cache and the command line, on tiny models with chosen weights,
the shipped models and a model saved from the Training lab (the page: test_inside_page.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers import (
    REPO_ROOT,
    cifake_files,
    cli,
    encode,
    random_image,
    save_lab_model,
    write_zip,
)

keras = pytest.importorskip("keras")

from core.data.dataset import load_dataset  # noqa: E402
from core.detect.inside import Inside, network_of, strongest_channels  # noqa: E402
from core.detect.inside_conv import filters_of, trace_conv  # noqa: E402
from core.detect.inside_images import filter_tiles, map_grid  # noqa: E402
from core.labs.inside_channels import cached, channel_stats, extremes, separation  # noqa: E402
from core.models.artifacts import load_predictor  # noqa: E402

LAPLACE = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32)
SHIPPED = ("flagship", "scanner", "bn5_cnn", "reference_cnn", "lenet2")


def laplace_model(padding: str = "same"):
    """Pixels / 8 -> one 3x3 convolution with the Laplace kernel, bias 0.5, ReLU -> global
    average pool -> Dense(1) with weight 2 and bias -1, sigmoid."""
    inputs = keras.Input((6, 6, 1), name="image")
    x = keras.layers.Rescaling(1 / 8, name="rescale")(inputs)
    conv = keras.layers.Conv2D(1, 3, padding=padding, activation="relu", name="conv")
    x = conv(x)
    x = keras.layers.GlobalAveragePooling2D(name="features")(x)
    dense = keras.layers.Dense(1, activation="sigmoid", name="p_fake")
    model = keras.Model(inputs, dense(x))
    conv.set_weights([LAPLACE[:, :, None, None], np.array([0.5], np.float32)])
    dense.set_weights([np.array([[2.0]], np.float32), np.array([-1.0], np.float32)])
    return model


IMAGE = (np.arange(36).reshape(6, 6, 1) * 7 % 23).astype(np.float32)  # small integers


def expected_map(image: np.ndarray, padding: str) -> np.ndarray:
    """The Laplace map of image / 8, plus 0.5, through ReLU, by hand."""
    x = image[..., 0] / 8
    padded = np.pad(x, 1) if padding == "same" else x
    rows, cols = padded.shape[0] - 2, padded.shape[1] - 2
    out = np.array([[(padded[r:r + 3, c:c + 3] * LAPLACE).sum() for c in range(cols)]
                    for r in range(rows)])
    return np.maximum(out + 0.5, 0)


# ---------------------------------------------------------------- tiny models, known answers

@pytest.mark.parametrize("padding", ["same", "valid"])
def test_a_known_kernel_gives_the_expected_map_logit_and_probability(padding):
    model = laplace_model(padding)
    inside = Inside(model, {"method": "platt", "a": 2.0, "b": 0.0})
    network = inside.network
    assert [b.id for b in network.blocks] == ["prep", "conv1", "gap", "output"]
    side = 6 if padding == "same" else 4
    conv = network.block("conv1")
    assert conv.output_shape == (side, side, 1) and conv.params == 10
    assert conv.macs == side * side * 9 and network.block("output").macs == 1
    assert conv.summary == "Conv 3x3 (1), ReLU"
    assert network.block("prep").summary == "Rescale 0–255 to 0…31.875"
    assert network.params == model.count_params()
    acts = inside.activations(IMAGE[None])
    expected = expected_map(IMAGE, padding)
    np.testing.assert_allclose(acts.maps["conv1"][0, ..., 0], expected, atol=1e-6)
    logit = 2 * expected.mean() - 1
    assert acts.logits[0] == pytest.approx(logit, abs=1e-6)
    assert acts.p_raw[0] == pytest.approx(1 / (1 + np.exp(-logit)), abs=1e-6)
    assert acts.p_fake[0] == pytest.approx(1 / (1 + np.exp(-2 * logit)), abs=1e-6)  # Platt a=2


def test_the_convolution_step_shows_the_window_weights_products_and_sum():
    inside = Inside(laplace_model("same"))
    trace = trace_conv(inside, IMAGE)
    assert trace.layer == "conv" and trace.pad_top == trace.pad_left == 1
    assert trace.positions == 36 and trace.position(8) == (1, 2)
    np.testing.assert_array_equal(trace.inputs[..., 0], IMAGE[..., 0] / 8)  # after Rescaling
    x = IMAGE[..., 0] / 8
    corner = trace.step(0, 0, 0)  # hangs over the zero padding
    assert (corner.top, corner.left) == (-1, -1)
    window = np.zeros((3, 3))
    window[1:, 1:] = x[:2, :2]
    np.testing.assert_array_equal(corner.window[..., 0], window)
    np.testing.assert_array_equal(corner.weights[..., 0], LAPLACE)
    np.testing.assert_array_equal(corner.products[..., 0], window * LAPLACE)
    assert corner.total == pytest.approx((window * LAPLACE).sum(), abs=1e-9)
    assert corner.bias == 0.5 and corner.activation == "relu" and corner.after == ()
    assert corner.value == pytest.approx(max(corner.total + 0.5, 0), abs=1e-6)
    middle = trace.step(2, 3, 0)
    np.testing.assert_array_equal(middle.window[..., 0], x[1:4, 2:5])
    expected = expected_map(IMAGE, "same")
    for row in range(6):
        for col in range(6):
            assert trace.step(row, col, 0).value == pytest.approx(expected[row, col], abs=1e-6)
            assert trace.outputs[row, col, 0] == pytest.approx(expected[row, col], abs=1e-6)


def test_batchnorm_and_relu_after_a_convolution_are_carried_through():
    inputs = keras.Input((5, 5, 2))
    conv = keras.layers.Conv2D(3, 3, padding="same", use_bias=False)
    norm = keras.layers.BatchNormalization(epsilon=0.001)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(
        keras.layers.GlobalAveragePooling2D()(keras.layers.ReLU()(norm(conv(inputs))))))
    rng = np.random.default_rng(1)
    conv.set_weights([rng.normal(size=(3, 3, 2, 3)).astype(np.float32)])
    gamma, beta = np.array([1.5, -2.0, 0.5]), np.array([0.1, 0.2, -0.3])
    mean, variance = np.array([0.3, -0.1, 0.0]), np.array([2.0, 0.5, 1.0])
    norm.set_weights([a.astype(np.float32) for a in (gamma, beta, mean, variance)])
    inside = Inside(model)
    image = rng.uniform(0, 3, (5, 5, 2)).astype(np.float32)
    trace = trace_conv(inside, image)
    assert trace.bias is None and [type(f).__name__ for f in trace.followers] == [
        "BatchNormalization", "ReLU"]
    block = inside.activations(image[None]).maps["conv1"][0]
    for row, col, channel in [(0, 0, 0), (2, 3, 1), (4, 4, 2)]:
        step = trace.step(row, col, channel)
        (bn_label, formula, normed), (relu_label, _, out) = step.after
        z = step.total
        assert bn_label == "BatchNorm" and relu_label == "ReLU" and "√" in formula
        assert normed == pytest.approx((z - mean[channel]) / np.sqrt(variance[channel] + 0.001)
                                       * gamma[channel] + beta[channel], abs=1e-5)
        assert out == pytest.approx(max(normed, 0), abs=1e-6)
        assert out == pytest.approx(block[row, col, channel], abs=1e-5)


def test_residual_blocks_are_found_from_the_graph():
    from core.models.deep import build_flagship

    model = build_flagship(width=4)
    network = network_of(model)
    assert [b.id for b in network.blocks] == ["prep", "conv1", "res1", "res2", "res3", "res4",
                                              "res5", "res6", "gap", "output"]
    skips = [b.skip for b in network.blocks if b.kind == "res"]
    assert skips == ["identity", "identity", "Conv 1x1 (8), stride 2 → BatchNorm", "identity",
                     "Conv 1x1 (16), stride 2 → BatchNorm", "identity"]
    res3 = network.block("res3")
    assert res3.output_shape == (16, 16, 8)
    assert res3.summary == ("Conv 3x3 (8), stride 2 → BatchNorm → ReLU → Conv 3x3 (8) → "
                            "BatchNorm → + skip → ReLU")
    assert len(res3.layers) == 9 and res3.output_layer == res3.layers[-1]
    assert network.params == model.count_params()
    # multiply-adds: main path 3x3x4x8 + 3x3x8x8, shortcut 1x1x4x8, on the 16x16 grid
    assert res3.macs == 16 * 16 * (9 * 4 * 8 + 9 * 8 * 8 + 4 * 8)


def test_strongest_channels_grids_and_filter_tiles():
    maps = np.zeros((4, 4, 70), np.float32)
    maps[..., 5] = 3
    maps[..., 2] = 1
    maps[0, 0, 9] = 32  # mean 2
    order = strongest_channels(maps)
    assert list(order[:3]) == [5, 9, 2] and len(order) == 64
    grid = map_grid(maps, order[:10], columns=4, tile=8)
    assert grid.image.shape == (3 * 8 + 2 * 3, 4 * 8 + 3 * 3, 3) and grid.tile == 8
    assert (grid.low, grid.high) == (0.0, 32.0) and grid.centre(5) == (11 + 4, 11 + 4)
    kernel = np.zeros((3, 3, 3, 2), np.float32)
    kernel[1, 1, 0, 0] = 0.5  # a red dot
    kernel[0, 0, 2, 1] = -1.0  # less blue in a corner
    tiles = filter_tiles(kernel)
    assert tiles.shape == (2, 3, 3, 3)
    assert tiles[0, 1, 1].tolist() == [255, 128, 128] and tiles[0, 0, 0].tolist() == [128] * 3
    assert tiles[1, 0, 0].tolist() == [128, 128, 0]


# ---------------------------------------------------------------- across the test set

def test_extremes_and_separation_on_known_data():
    values = np.array([0.3, 0.9, 0.1, 0.9, 0.5, 0.0])
    top, bottom = extremes(values, k=3)
    assert top.tolist() == [1, 3, 4] and bottom.tolist() == [5, 2, 0]
    labels = np.array([0, 0, 0, 1, 1, 1])
    means = np.stack([[1, 2, 3, 4, 5, 6],  # higher on FAKE: AUROC 1
                      [6, 5, 4, 3, 2, 1],  # higher on REAL: AUROC 0
                      [1, 1, 1, 1, 1, 1],  # no difference: 0.5 (ties count half)
                      [1, 3, 2, 2, 4, 5]], axis=1).astype(np.float32)
    sep = separation(means, labels)
    assert sep.auroc.tolist() == pytest.approx([1.0, 0.0, 0.5, 7.5 / 9])
    assert sep.ranked.tolist() == [0, 1, 3, 2]
    assert sep.leans(0) == "FAKE" and sep.leans(1) == "REAL"
    assert sep.mean_real[0] == 2 and sep.mean_fake[0] == 5
    assert sep.best == 1.0
    assert separation(means[:, 2:], labels).best == pytest.approx(7.5 / 9)
    with pytest.raises(ValueError, match="both labels"):
        separation(means, np.ones(6))


def test_channel_statistics_are_cached_on_disk_per_model_and_block(tmp_path, monkeypatch):
    from core.models.knobs import Knobs, build_from_knobs

    dataset = load_dataset(write_zip(tmp_path / "tiny.zip", cifake_files(8)), cache_dir=None)
    inside = Inside(build_from_knobs(Knobs(conv_blocks=2, filters=4, dense_layers=1,
                                           neurons=8)))
    cache = tmp_path / "cache"
    assert not cached("abc", dataset, "conv1", cache_dir=cache)
    stats = channel_stats(inside, "abc", dataset, "conv2", cache_dir=cache)
    test_rows = np.flatnonzero(dataset.splits == 1)  # all 16 are leak-free: fewer than 5,000
    assert sorted(stats.rows.tolist()) == test_rows.tolist()
    assert stats.means.shape == (16, 8) and stats.labels.tolist() == dataset.labels[
        stats.rows].tolist()
    images = dataset.images[stats.rows]
    maps = inside.activations(images).maps
    np.testing.assert_allclose(stats.means, maps["conv2"].mean(axis=(1, 2)), atol=1e-5)
    # one pass cached every block; later calls read the disk, different models do not share
    assert all(cached("abc", dataset, b.id, cache_dir=cache) for b in inside.network.blocks)
    assert not cached("abd", dataset, "conv1", cache_dir=cache)
    monkeypatch.setattr(Inside, "channel_means", lambda *a, **k: pytest.fail("recomputed"))
    again = channel_stats(inside, "abc", dataset, "dense1", cache_dir=cache)
    np.testing.assert_allclose(again.means, maps["dense1"], atol=1e-5)
    assert list(cache.glob("inside/*"))[0].name.startswith("abc-")
    with pytest.raises(ValueError, match="no block"):
        channel_stats(inside, "abc", dataset, "res9", cache_dir=cache)


# ---------------------------------------------------------------- the shipped models

@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_block_outputs_equal_keras_sub_models(name):
    predictor = load_predictor(name)
    model = predictor.model
    inside = Inside(model, predictor.calibration)
    images = np.stack([random_image(seed) for seed in range(3)]).astype(np.float32)
    acts = inside.activations(images)
    assert inside.network.params == model.count_params()
    for block in inside.network.blocks:
        sub = keras.Model(model.input, model.get_layer(block.output_layer).output)
        np.testing.assert_allclose(acts.maps[block.id], np.asarray(sub(images)), atol=1e-5,
                                   err_msg=f"{name} {block.id}")
    np.testing.assert_allclose(acts.p_fake, predictor.predict(images), atol=1e-5)
    np.testing.assert_allclose(1 / (1 + np.exp(-acts.logits)), acts.p_raw, atol=1e-5)


@pytest.mark.slow
def test_shipped_convolution_steps_equal_the_layer_outputs():
    predictor = load_predictor("flagship")
    inside = Inside(predictor.model)
    image = random_image(3)
    first = trace_conv(inside, image)
    assert first.kernel.shape == (3, 3, 3, 48) and first.pad_top == 1
    np.testing.assert_allclose(first.inputs, image / 127.5 - 1, atol=1e-6)  # after Rescaling
    block = inside.activations(image[None]).maps["conv1"][0]
    strided = next(layer.name for layer in predictor.model.layers
                   if type(layer).__name__ == "Conv2D" and layer.strides == (2, 2)
                   and layer.kernel_size == (3, 3))
    trace = trace_conv(inside, image, strided)
    assert trace.strides == (2, 2) and (trace.pad_top, trace.pad_left) == (0, 0)
    for row, col, channel in [(0, 0, 0), (0, 31, 5), (31, 31, 47), (13, 7, 20)]:
        step = first.step(row, col, channel)
        assert step.value == pytest.approx(first.outputs[row, col, channel], abs=1e-5)
        assert step.after[-1][2] == pytest.approx(block[row, col, channel], abs=1e-5)
    for row, col, channel in [(0, 0, 0), (15, 15, 95), (8, 3, 40)]:
        step = trace.step(row, col, channel)
        assert step.value == pytest.approx(trace.outputs[row, col, channel], abs=1e-4)
    reference = Inside(load_predictor("reference_cnn").model)
    valid = trace_conv(reference, image)
    assert valid.pad_top == 0 and valid.outputs.shape == (30, 30, 32)
    step = valid.step(29, 0, 3)
    assert (step.top, step.left) == (29, 0) and step.bias is not None
    assert step.value == pytest.approx(valid.outputs[29, 0, 3], abs=1e-6)
    assert filters_of(predictor.model).kernel.shape == (3, 3, 3, 48)


def test_shipped_architectures_as_blocks():
    scanner = network_of(load_predictor("scanner").model)
    assert scanner.macs == 7_520_320  # "7.5 M multiply-adds" (core.models.deep)
    assert [b.kind for b in scanner.blocks] == ["prep", *["conv"] * 5, "gap", "output"]
    bn5 = network_of(load_predictor("bn5_cnn").model)
    assert [b.id for b in bn5.blocks][:4] == ["prep", "conv1", "pool1", "conv2"]
    assert bn5.block("conv1").summary == "Conv 3x3 (32) → BatchNorm → ReLU"
    assert bn5.block("gap").summary == "Global average pool → Dropout 0.5"


# ---------------------------------------------------------------- the command line

def test_command_writes_block_grids_and_a_summary(tmp_path):
    image = tmp_path / "fake.jpg"
    image.write_bytes(encode(random_image(5), ".jpg", quality=75))
    out = tmp_path / "out"
    result = cli("inside", "scanner", image, "--out", out)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert [b["id"] for b in summary["blocks"]] == ["prep", "conv1", "conv2", "conv3", "conv4",
                                                    "conv5", "gap", "output"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["input.png", "summary.json", *(b["file"] for b in summary["blocks"] if "file" in b)])
    conv1 = summary["blocks"][1]
    assert conv1["output_shape"] == [32, 32, 16] and conv1["file"] == "02-conv1.png"
    assert len(conv1["top_channels"]) == 8 and conv1["multiply_adds"] == 442_368
    means = [c["mean"] for c in conv1["top_channels"]]
    assert means == sorted(means, reverse=True)
    from core.data.imageio import decode_image

    expected = load_predictor("scanner").predict(decode_image(image.read_bytes())[None])[0]
    assert summary["p_fake"] == pytest.approx(expected, abs=1e-5)
    assert summary["multiply_adds"] == 7_520_320


def test_command_refuses_bad_input_with_one_line(tmp_path):
    image = tmp_path / "ok.jpg"
    image.write_bytes(encode(random_image(1), ".jpg"))
    text = tmp_path / "text.jpg"
    text.write_text("not an image")
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    for args, message in [
        (("scanner", image, "--out", existing), "already exists"),
        (("nope", image, "--out", tmp_path / "a"), "'nope' is not a CNN"),
        (("logreg", image, "--out", tmp_path / "a"), "'logreg' is not a CNN"),
        (("scanner", tmp_path / "missing.jpg", "--out", tmp_path / "a"), "cannot read"),
        (("scanner", text, "--out", tmp_path / "a"), "not an image"),
    ]:
        result = cli("inside", *args)
        assert result.returncode == 2, (args, result.stderr)
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and message in errors[0], result.stderr
    assert (existing / "keep.txt").read_text() == "mine" and not (tmp_path / "a").exists()


def test_help_and_refusals_start_without_tensorflow(tmp_path):
    existing = tmp_path / "existing"
    existing.mkdir()
    for args in (["--help"], ["scanner", "photo.jpg", "--out", str(existing)]):
        result = subprocess.run([sys.executable, "-X", "importtime", "-m", "core", "inside",
                                 *args], cwd=REPO_ROOT, capture_output=True, text=True,
                                timeout=300)
        imported = {line.rsplit("|", 1)[1].strip().split(".")[0]
                    for line in result.stderr.splitlines()
                    if line.startswith("import time:") and "|" in line}
        assert "core" in imported and not imported & {"tensorflow", "keras"}, args


# ---------------------------------------------------------------- a Training-lab model

@pytest.fixture(scope="module")
def lab_model(tmp_path_factory):
    return save_lab_model(tmp_path_factory.mktemp("lab"))


@pytest.mark.slow
def test_a_training_lab_model_opens_inside(lab_model, tmp_path):
    models, name, dataset = lab_model
    predictor = load_predictor(name, models)
    inside = Inside(predictor.model, predictor.calibration)
    assert [b.id for b in inside.network.blocks] == ["prep", "conv1", "pool1", "conv2",
                                                     "flatten", "dense1", "output"]
    image = dataset.images[0]
    acts = inside.activations(image[None])
    assert acts.p_fake[0] == pytest.approx(predictor.predict(image[None])[0], abs=1e-5)
    trace = trace_conv(inside, image)
    step = trace.step(5, 7, 2)
    assert step.value == pytest.approx(trace.outputs[5, 7, 2], abs=1e-5)
    stats = channel_stats(inside, predictor.sha256, dataset, "conv2", cache_dir=tmp_path)
    assert stats.means.shape[1] == 8 and len(stats.rows) == (dataset.splits == 1).sum()
    image_file = tmp_path / "one.png"
    image_file.write_bytes(encode(image, ".png"))
    result = cli("inside", name, image_file, "--out", tmp_path / "out",
                     "--models-dir", models)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["model"] == name and summary["p_fake"] == pytest.approx(
        float(acts.p_fake[0]), abs=1e-5)
