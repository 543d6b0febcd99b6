"""Decoding a source into arrays: shapes, alignment, skipped files, counts, the disk cache."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
from helpers import cifake_files, encode, jpeg, png, random_image, write_tree, write_zip

import core.data.dataset as dataset_module
import core.data.files as files_module
from core.data.dataset import Dataset, load_dataset
from core.data.files import save_array_atomic, write_atomic
from core.errors import DataError

N = 8  # good JPEGs per split/label folder


def _mixed_files() -> dict[str, bytes]:
    files = cifake_files(N)
    gray = np.full((32, 32), 100, np.uint8)
    rgba = np.zeros((32, 32, 4), np.uint8)  # fully transparent -> white
    good_jpeg = jpeg(500, (64, 64))
    files.update({
        "train/REAL/100 (3).png": png(100, (48, 40)),
        "train/FAKE/101 (4).png": png(101, (40, 48)),
        "test/REAL/102 (5).png": encode(gray, ".png"),
        "test/FAKE/103 (6).png": encode(rgba, ".png"),
        "train/REAL/notes.txt": b"not an image at all",
        "train/REAL/broken (2).jpg": good_jpeg[: len(good_jpeg) // 2],
        "test/FAKE/empty.jpg": b"",
    })
    return files


@pytest.fixture
def mixed_zip(tmp_path):
    return write_zip(tmp_path / "mixed.zip", _mixed_files())


def test_load_tiny_zip(mixed_zip, tmp_path):
    files = _mixed_files()
    ds = load_dataset(mixed_zip, cache_dir=tmp_path / "cache")
    n_good = 4 * N + 4
    assert len(ds) == n_good
    assert ds.images.shape == (n_good, 32, 32, 3) and ds.images.dtype == np.uint8
    assert ds.size == 32
    for arr in (ds.labels, ds.splits, ds.classes, ds.paths, ds.hashes):
        assert arr.shape == (n_good,)
    assert ds.hashes.dtype == np.dtype("S16")
    assert ds.source == str(mixed_zip.resolve())
    assert ds.split_given is True
    # skipped files, with reasons
    skipped = dict(ds.skipped)
    assert set(skipped) == {"train/REAL/notes.txt", "train/REAL/broken (2).jpg",
                            "test/FAKE/empty.jpg"}
    assert "not an image" in skipped["train/REAL/notes.txt"]
    assert "truncated or corrupt" in skipped["train/REAL/broken (2).jpg"]
    assert "empty file" in skipped["test/FAKE/empty.jpg"]
    assert not set(skipped) & set(ds.paths)
    # rows aligned: label/split from the folder, class from the name, hash of the file's bytes
    assert list(ds.paths) == sorted(ds.paths)
    for i, path in enumerate(ds.paths):
        split, label, name = path.split("/")
        assert ds.splits[i] == ("train", "test").index(split)
        assert ds.labels[i] == ("REAL", "FAKE").index(label)
        assert ds.hashes[i] == hashlib.blake2b(files[path], digest_size=16).digest()
    row = ds.rows_of(["train/FAKE/3 (4).jpg"])[0]
    assert ds.classes[row] == 4
    # pixels: the gray PNG stays gray, the transparent one is white, resized ones are 32x32
    gray_row, rgba_row, png_row = ds.rows_of(
        ["test/REAL/102 (5).png", "test/FAKE/103 (6).png", "train/REAL/100 (3).png"]
    )
    assert (ds.images[gray_row] == 100).all()
    assert (ds.images[rgba_row] == 255).all()
    original = random_image(100, (48, 40))
    assert abs(ds.images[png_row].astype(float).mean() - original.mean()) < 2


def test_counts_and_class_counts(mixed_zip, tmp_path):
    ds = load_dataset(mixed_zip, cache_dir=tmp_path / "cache")
    assert ds.counts() == {
        "train": {"REAL": N + 1, "FAKE": N + 1},
        "test": {"REAL": N + 1, "FAKE": N + 1},
    }
    cc = ds.class_counts()
    # images 0..7 have classes 1..8; only CIFAKE's .jpg names carry a class: the PNGs are unknown
    base = {name: 1 for name in ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                 "horse")}
    for split in ("train", "test"):
        for label in ("REAL", "FAKE"):
            assert cc[split][label] == dict(base, unknown=1)
    assert sum(sum(v.values()) for s in cc.values() for v in s.values()) == len(ds)


def test_cache_round_trip(mixed_zip, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = load_dataset(mixed_zip, cache_dir=cache)
    entries = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1 and entries[0].name.endswith("-32-v1")
    assert {p.name for p in entries[0].iterdir()} == {"images.npy", "index.npz", "meta.json"}
    assert not [p for p in cache.iterdir() if p.name.startswith(".tmp-")]

    def no_decode(*args, **kwargs):
        raise AssertionError("decoded again instead of reading the cache")

    monkeypatch.setattr(dataset_module, "_decode", no_decode)
    messages = []
    second = load_dataset(mixed_zip, cache_dir=cache, progress=lambda f, m: messages.append(m))
    assert "Loaded from cache" in messages
    for name in ("images", "labels", "splits", "classes", "paths", "hashes"):
        np.testing.assert_array_equal(getattr(second, name), getattr(first, name))
    assert second.skipped == first.skipped
    assert second.split_given == first.split_given
    assert second.fingerprint == first.fingerprint
    assert second.source == first.source


def test_cache_invalidated_when_source_changes(tmp_path):
    root = write_tree(tmp_path / "d", cifake_files(2))
    cache = tmp_path / "cache"
    first = load_dataset(root, cache_dir=cache)
    (root / "train/REAL/5.jpg").write_bytes(jpeg(777))
    second = load_dataset(root, cache_dir=cache)
    assert len(second) == len(first) + 1
    assert second.fingerprint != first.fingerprint
    assert len([p for p in cache.iterdir() if not p.name.startswith(".")]) == 2


def test_no_cache(tiny_zip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ds = load_dataset(tiny_zip, cache_dir=None)
    assert len(ds) == 4 * N
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.zip"]


def test_size_16(tiny_zip, tmp_path):
    ds32 = load_dataset(tiny_zip, cache_dir=tmp_path / "cache")
    ds16 = load_dataset(tiny_zip, size=16, cache_dir=tmp_path / "cache")
    assert ds16.images.shape == (4 * N, 16, 16, 3)
    assert ds16.size == 16
    assert ds16.fingerprint != ds32.fingerprint  # the size is part of the identity
    np.testing.assert_array_equal(ds16.hashes, ds32.hashes)
    # area downscale: each 16x16 pixel is close to the mean of its 2x2 block
    blocks = ds32.images.astype(float).reshape(-1, 16, 2, 16, 2, 3).mean(axis=(2, 4))
    assert np.abs(blocks - ds16.images).max() <= 1


@pytest.mark.parametrize("size", [4, 7, 513])
def test_size_out_of_range(tiny_zip, size):
    with pytest.raises(DataError, match=f"size must be between 8 and 512 pixels \\(got {size}\\)"):
        load_dataset(tiny_zip, size=size, cache_dir=None)


def test_progress_reported(tiny_zip):
    fractions = []
    load_dataset(tiny_zip, cache_dir=None, progress=lambda f, m: fractions.append(f))
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions)


def test_all_bad_raises(tmp_path):
    root = write_tree(tmp_path / "bad",
                      {"REAL/a.jpg": b"nope", "FAKE/b.jpg": b"", "FAKE/c.png": b"x"})
    with pytest.raises(DataError, match="None of the 3 files in .* could be decoded as images"):
        load_dataset(root, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_one_label_undecodable_raises(tmp_path):
    root = write_tree(tmp_path / "half", {"REAL/a.jpg": jpeg(1), "FAKE/b.jpg": b"text"})
    with pytest.raises(DataError, match="No decodable FAKE image"):
        load_dataset(root, cache_dir=None)


def test_unsplit_folder(tmp_path):
    files = {f"x/REAL/{i}.jpg": jpeg(i) for i in range(12)}
    files.update({f"y/FAKE/{i}.jpg": jpeg(100 + i) for i in range(12)})
    ds = load_dataset(write_tree(tmp_path / "u", files), cache_dir=tmp_path / "cache")
    assert ds.split_given is False
    assert ds.counts() == {"train": {"REAL": 10, "FAKE": 10}, "test": {"REAL": 2, "FAKE": 2}}
    cached = load_dataset(tmp_path / "u", cache_dir=tmp_path / "cache")
    assert cached.split_given is False


def _small_dataset() -> Dataset:
    n = 40
    rng = np.random.default_rng(0)
    paths = np.array(sorted(f"f{i:03d}.jpg" for i in range(n)))
    return Dataset(
        images=rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8),
        labels=np.tile([0, 1], n // 2).astype(np.int8),
        splits=np.repeat([0, 1], n // 2).astype(np.int8),
        classes=(np.arange(n) % 5).astype(np.int8),
        paths=paths,
        hashes=np.array([bytes([i]) * 16 for i in range(n)], dtype="S16"),
        source="/x/y.zip",
        skipped=[],
        split_given=True,
    )


def test_sample_filters_and_is_deterministic():
    ds = _small_dataset()
    rows = ds.sample(5, seed=1, split=1, label=0)
    assert len(rows) == 5 and len(set(rows.tolist())) == 5
    assert (ds.splits[rows] == 1).all() and (ds.labels[rows] == 0).all()
    np.testing.assert_array_equal(rows, ds.sample(5, seed=1, split=1, label=0))
    assert not np.array_equal(
        np.sort(ds.sample(8, seed=1, split=1, label=0)),
        np.sort(ds.sample(8, seed=2, split=1, label=0)),
    )
    rows = ds.sample(100, class_index=3)
    assert sorted(rows.tolist()) == [i for i in range(40) if i % 5 == 3]
    rows = ds.sample(100, split=0, label=1, class_index=0)
    assert sorted(rows.tolist()) == [i for i in range(20) if i % 2 == 1 and i % 5 == 0]
    assert len(ds.sample(100, label=1, class_index=7)) == 0
    assert len(ds.sample(3)) == 3


def test_sample_within_a_mask():
    ds = _small_dataset()
    mask = np.zeros(len(ds), bool)
    mask[[21, 23, 24, 25, 30]] = True
    assert sorted(ds.sample(10, split=1, label=1, mask=mask).tolist()) == [21, 23, 25]
    assert sorted(ds.sample(10, mask=mask).tolist()) == [21, 23, 24, 25, 30]
    assert mask.sum() == 5  # the caller's mask is left as it was


def test_subset_keeps_rows_aligned():
    ds = _small_dataset()
    rows = np.array([3, 20, 39])
    part = ds.subset(rows)
    assert len(part) == 3 and part.source == ds.source
    for name in ("images", "labels", "splits", "classes", "paths", "hashes"):
        np.testing.assert_array_equal(getattr(part, name), getattr(ds, name)[rows])
    assert part.rows_of(["f020.jpg"]).tolist() == [1]


def test_rows_of():
    ds = _small_dataset()
    rows = ds.rows_of(["f005.jpg", "nope.jpg", "f039.jpg", "f000.jpg", "zzz.jpg", "a.jpg"])
    assert rows.tolist() == [5, -1, 39, 0, -1, -1]
    assert ds.rows_of([]).tolist() == []


def test_fingerprint_depends_on_content_only():
    ds = _small_dataset()
    moved = Dataset(**{**ds.__dict__, "source": "/elsewhere/z.zip", "paths": ds.paths})
    assert moved.fingerprint == ds.fingerprint
    relabelled = Dataset(**{**ds.__dict__, "labels": 1 - ds.labels})
    assert relabelled.fingerprint != ds.fingerprint
    assert len(ds.fingerprint) == 16


# --- files.write_atomic --------------------------------------------------------------------------


def test_write_atomic(tmp_path):
    target = tmp_path / "sub" / "out.json"
    assert write_atomic(target, '{"a": 1}') == target
    assert target.read_text() == '{"a": 1}'
    write_atomic(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert os.listdir(target.parent) == ["out.json"]


def test_write_atomic_interrupted_keeps_old_file(tmp_path, monkeypatch):
    target = tmp_path / "stats.json"
    target.write_text("old contents")

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files_module.os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, "new contents")
    assert target.read_text() == "old contents"
    assert os.listdir(tmp_path) == ["stats.json"]  # no temporary file left behind


def test_write_atomic_interrupted_by_keyboard(tmp_path, monkeypatch):
    target = tmp_path / "a.bin"

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(files_module.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, b"data")
    assert os.listdir(tmp_path) == []


def test_save_array_atomic(tmp_path):
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    path = save_array_atomic(tmp_path / "a.npy", array)
    loaded = np.load(path)
    np.testing.assert_array_equal(loaded, array)
    assert loaded.dtype == np.float32
