"""The generator zoo, the fake sources and the cross-generator matrix, on tiny data and tiny
generators trained for one step."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import cifake_files, write_zip

keras = pytest.importorskip("keras")

from core.cli import main as cli  # noqa: E402
from core.data.dataset import load_dataset  # noqa: E402
from core.data.imageio import decode_image  # noqa: E402
from core.labs.generalization import build_generalization, train_sets  # noqa: E402
from core.models.fake_sources import real_images, source_images  # noqa: E402
from core.models.generators import GeneratorConfig, load_generator, train_generator  # noqa: E402
from core.models.train import TrainConfig, train  # noqa: E402


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """A tiny dataset and a GAN and a VAE trained one epoch of 2 steps on its REAL images."""
    root = tmp_path_factory.mktemp("zoo")
    dataset = load_dataset(write_zip(root / "tiny.zip", cifake_files(60, separable=True)),
                           cache_dir=None)
    real = dataset.images[(dataset.splits == 0) & (dataset.labels == 0)]
    generators = root / "generators"
    reports = {kind: train_generator(GeneratorConfig(kind, epochs=1, batch_size=8, width=4,
                                                     latent=8, limit=16), real, out_dir=generators)
               for kind in ("gan", "vae")}
    return dataset, generators, reports


@pytest.mark.slow
def test_generators_sample_the_same_images_for_the_same_seed(zoo):
    dataset, generators, reports = zoo
    gan, vae = load_generator("gan", generators), load_generator("vae", generators)
    a, b, c = gan.sample(6, seed=3), gan.sample(6, seed=3), gan.sample(6, seed=4)
    assert a.shape == (6, 32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    real = dataset.images[:4]
    assert np.array_equal(vae.sample(4, 0, images=real), vae.sample(4, 0, images=real))
    with pytest.raises(ValueError, match="reconstructions"):
        vae.sample(4, 0)
    # weights are stored in float16 and their report records the run
    stored = keras.saving.load_model(generators / "gan.keras", safe_mode=True, compile=False)
    assert {w.dtype for w in stored.get_weights()} == {np.dtype("float16")}
    assert reports["gan"]["data"]["n_train"] == 16
    assert reports["gan"]["params"] < reports["gan"]["params_trained"]  # no discriminator saved
    assert set(reports["vae"]["training"]["history"]) == {"loss", "reconstruction", "kl"}


@pytest.mark.slow
def test_a_tampered_generator_file_is_refused(zoo, tmp_path):
    _, generators, _ = zoo
    copy = tmp_path / "generators"
    copy.mkdir()
    for name in ("gan.json", "gan.keras"):
        (copy / name).write_bytes((generators / name).read_bytes())
    (copy / "gan.keras").write_bytes((copy / "gan.keras").read_bytes() + b"\0")
    with pytest.raises(ValueError, match="sha256"):
        load_generator("gan", copy)


@pytest.mark.slow
def test_sample_command_writes_the_same_images_and_never_overwrites(zoo, tmp_path, capsys):
    _, generators, _ = zoo
    args = ["generator", "sample", "gan", "--n", "5", "--seed", "7", "--out", str(tmp_path),
            "--generators-dir", str(generators)]
    assert cli(args) == 0
    files = sorted((tmp_path / "FAKE").glob("*.jpg"), key=lambda p: int(p.stem.split("_")[-1]))
    assert len(files) == 5
    decoded = np.stack([decode_image(f.read_bytes()) for f in files])
    assert np.array_equal(decoded, load_generator("gan", generators).sample(5, seed=7))
    before = [f.read_bytes() for f in files]
    assert cli(args) == 2
    assert "already holds files" in capsys.readouterr().err
    assert [f.read_bytes() for f in files] == before
    empty = tmp_path / "none"
    assert cli(["generator", "sample", "gan", "--n", "0", "--out", str(empty),
                "--generators-dir", str(generators)]) == 2
    assert "--n must be at least 1" in capsys.readouterr().err and not empty.exists()


def test_fake_sources_split_like_cifake(zoo):
    dataset, generators, _ = zoo
    sd = source_images("sd14", dataset, "test", 100)
    assert len(sd) == 60  # every leak-free test FAKE, no more
    gan_test = source_images("gan", dataset, "test", 5, generators_dir=generators, cache_dir=None)
    gan_train = source_images("gan", dataset, "train", 5, generators_dir=generators, cache_dir=None)
    assert not np.array_equal(gan_test, gan_train)  # each part has its own seed
    vae_test = source_images("vae", dataset, "test", 5, generators_dir=generators, cache_dir=None)
    assert vae_test.shape == real_images(dataset, "test", 5).shape
    with pytest.raises(ValueError, match="unknown fake source"):
        source_images("midjourney", dataset, "test", 5)


def test_train_sets_are_each_source_then_all_but_one():
    assert train_sets(("a", "b", "c")) == [("a",), ("b",), ("c",), ("b", "c"), ("a", "c"),
                                           ("a", "b")]
    assert train_sets(("a", "b")) == [("a",), ("b",)]


@pytest.mark.slow
def test_extra_fakes_in_training_and_the_matrix_writer(zoo, tmp_path):
    dataset, generators, _ = zoo
    models = tmp_path / "models"
    report = train(TrainConfig("scanner", width=4, epochs=1, batch_size=16, fakes=("gan",),
                               fakes_n=18), dataset, models_dir=models,
                   generators_dir=generators, verbose=0)
    assert report["split"]["extra_fakes"] == {"sources": ["gan"], "n_train_each": 18,
                                              "n_val_each": 2}
    result = build_generalization(dataset, ("sd14", "vae"), architecture="lenet", n_train=24,
                                  n_test=8, epochs=1, features_model="scanner",
                                  models_dir=models, generators_dir=generators)
    assert [row["trained_on"] for row in result["matrix"]] == [["sd14"], ["vae"]]
    for row in result["matrix"]:
        assert set(row["tests"]) == {"sd14", "vae"}
        assert all(0 <= cell["auroc"] <= 1 for cell in row["tests"].values())
    assert result["shipped"]["scanner"]["extra_fakes"] == ["gan"]
    assert set(result["frechet"]) == {"features", "REAL train", "sd14", "vae"}
    assert json.loads((models / "generalization.json").read_text())["setup"]["n_test_each"] == 8
