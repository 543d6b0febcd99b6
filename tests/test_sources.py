"""Finding and listing a dataset source: class names, layouts, seeded splits, errors."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import cifake_files, jpeg, write_tree, write_zip

import core.data.sources as sources
from core.data.sources import (
    TEST_FRACTION,
    parse_class,
    resolve_source,
    scan_source,
    source_identity,
)
from core.errors import DataError


@pytest.mark.parametrize(
    "name, expected",
    [
        ("12.jpg", 1),
        ("12 (7).jpg", 7),
        ("0042 (10).jpg", 10),
        ("x.png", 0),
        ("5 (11).jpg", 0),
        ("5 (0).jpg", 0),
        ("7 (3).JPEG", 3),
        ("cat (3).jpg", 0),
    ],
)
def test_parse_class(name, expected):
    assert parse_class(name) == expected


def _by_member(listing):
    return {
        m: (int(lab), int(s), int(c))
        for m, lab, s, c in zip(listing.members, listing.labels, listing.splits, listing.classes)
    }


def test_scan_zip_with_train_test(tmp_path):
    files = cifake_files(3)
    listing = scan_source(write_zip(tmp_path / "d.zip", files))
    assert listing.is_zip
    assert listing.split_given is True
    assert listing.members == sorted(files)
    rows = _by_member(listing)
    assert rows["train/REAL/0.jpg"] == (0, 0, 1)
    assert rows["train/FAKE/1 (2).jpg"] == (1, 0, 2)
    assert rows["test/REAL/2 (3).jpg"] == (0, 1, 3)
    assert rows["test/FAKE/0.jpg"] == (1, 1, 1)
    for arr in (listing.labels, listing.splits, listing.classes):
        assert arr.dtype == np.int8 and arr.shape == (12,)
    assert np.bincount(listing.labels * 2 + listing.splits).tolist() == [3, 3, 3, 3]


def test_scan_zip_with_top_level_folder(tmp_path):
    files = cifake_files(2, prefix="cifake/")
    files["cifake/"] = b""  # a directory entry is not an image
    listing = scan_source(write_zip(tmp_path / "d.zip", files))
    assert len(listing.members) == 8
    assert all(m.startswith("cifake/") for m in listing.members)
    assert _by_member(listing)["cifake/test/FAKE/1 (2).jpg"] == (1, 1, 2)
    assert listing.split_given


def test_scan_extracted_folder(tmp_path):
    root = write_tree(tmp_path / "cifake", cifake_files(2))
    listing = scan_source(root)
    assert not listing.is_zip
    assert listing.source == root.resolve()
    assert listing.members == sorted(cifake_files(2))
    assert _by_member(listing)["train/FAKE/0.jpg"] == (1, 0, 1)
    # read() yields each member's bytes in listing order
    read = list(listing.read())
    assert [m for m, _ in read] == listing.members
    assert read[0][1] == (root / listing.members[0]).read_bytes()


def _unsplit_files(per_stratum: int) -> dict[str, bytes]:
    files = {}
    for label, folder in (("REAL", "a/b/REAL"), ("FAKE", "a/c/FAKE")):
        for k in (1, 2, 3):
            for i in range(per_stratum):
                name = f"{i}.jpg" if k == 1 else f"{i} ({k}).jpg"
                files[f"{folder}/{name}"] = f"{label}{k}{i}".encode()  # no decoding here
    return files


def test_seeded_split_without_train_test(tmp_path):
    root = write_tree(tmp_path / "nested", _unsplit_files(12))
    first = scan_source(root)
    second = scan_source(root)
    assert first.split_given is False
    assert first.members == second.members
    np.testing.assert_array_equal(first.splits, second.splits)
    assert set(np.unique(first.splits)) == {0, 1}
    # stratified: round(12 / 6) = 2 test images in each (label, class) stratum
    for lab in (0, 1):
        for k in (1, 2, 3):
            stratum = (first.labels == lab) & (first.classes == k)
            assert stratum.sum() == 12
            assert first.splits[stratum].sum() == round(12 * TEST_FRACTION) == 2
    # the same files in a zip split the same way (the split depends on names only)
    zipped = scan_source(write_zip(tmp_path / "nested.zip", _unsplit_files(12)))
    assert zipped.members == first.members
    np.testing.assert_array_equal(zipped.splits, first.splits)


def test_lowercase_label_folders_and_split_case(tmp_path):
    files = {"Train/real/1.jpg": b"a", "TEST/fake/2.jpg": b"b", "train/Fake/3 (4).jpg": b"c"}
    listing = scan_source(write_tree(tmp_path / "lc", files))
    assert _by_member(listing) == {
        "TEST/fake/2.jpg": (1, 1, 1),
        "Train/real/1.jpg": (0, 0, 1),
        "train/Fake/3 (4).jpg": (1, 0, 4),
    }


def test_macosx_and_dotfiles_ignored(tmp_path):
    files = cifake_files(1)
    files.update({
        "__MACOSX/train/REAL/._0.jpg": b"resource fork",
        "__MACOSX/train/FAKE/0.jpg": b"resource fork",
        "train/REAL/.DS_Store": b"finder",
        "train/FAKE/._1.jpg": b"apple double",
    })
    expected = sorted(cifake_files(1))
    assert scan_source(write_zip(tmp_path / "mac.zip", files)).members == expected
    folder_files = dict(files, **{".hidden/REAL/5.jpg": b"x", "train/.cache/REAL/6.jpg": b"y"})
    assert scan_source(write_tree(tmp_path / "mac", folder_files)).members == expected


def test_files_outside_label_folders_ignored(tmp_path):
    files = cifake_files(1)
    files.update({"README.md": b"hi", "train/notes.txt": b"n", "other/1.jpg": jpeg(1)})
    listing = scan_source(write_zip(tmp_path / "d.zip", files))
    assert listing.members == sorted(cifake_files(1))


def test_missing_path(tmp_path):
    with pytest.raises(DataError, match="No file or folder at") as info:
        scan_source(tmp_path / "nowhere.zip")
    assert "nowhere.zip" in str(info.value)


def test_corrupt_zip(tmp_path):
    bad = tmp_path / "cifake.zip"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(DataError, match=r"cifake\.zip is not a readable zip archive"):
        scan_source(bad)


def test_zip_without_label_folders(tmp_path):
    source = write_zip(tmp_path / "d.zip", {"images/1.jpg": jpeg(1), "images/2.jpg": jpeg(2)})
    with pytest.raises(DataError, match="No images under REAL/ or FAKE/ folders") as info:
        scan_source(source)
    assert "train/REAL/*.jpg" in str(info.value)


def test_folder_without_label_folders(tmp_path):
    root = write_tree(tmp_path / "plain", {"cats/1.jpg": jpeg(1)})
    with pytest.raises(DataError, match="No images under REAL/ or FAKE/ folders"):
        scan_source(root)


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="No images under REAL/ or FAKE/"):
        scan_source(tmp_path / "empty")


def test_only_real(tmp_path):
    source = write_zip(tmp_path / "d.zip",
                       {"train/REAL/1.jpg": jpeg(1), "test/REAL/2.jpg": jpeg(2)})
    with pytest.raises(DataError, match="one label only .*no FAKE/ folder"):
        scan_source(source)


def test_only_fake(tmp_path):
    root = write_tree(tmp_path / "f", {"FAKE/1.jpg": jpeg(1)})
    with pytest.raises(DataError, match="no REAL/ folder"):
        scan_source(root)


def test_identity_changes_with_content(tmp_path):
    root = write_tree(tmp_path / "d", cifake_files(1))
    before = source_identity(root)
    assert source_identity(root) == before
    (root / "train/REAL/0.jpg").write_bytes(jpeg(99) + b"extra")
    assert source_identity(root) != before


# --- resolve_source -----------------------------------------------------------------------------


def test_resolve_explicit_path_wins(tmp_path, monkeypatch):
    explicit = write_zip(tmp_path / "mine.zip", cifake_files(1))
    env = write_zip(tmp_path / "env.zip", cifake_files(1))
    monkeypatch.setenv("CIFAKE_PATH", str(env))
    assert resolve_source(explicit) == explicit.resolve()
    assert resolve_source(str(explicit)) == explicit.resolve()


def test_resolve_uses_env(tmp_path, monkeypatch):
    env = write_zip(tmp_path / "env.zip", cifake_files(1))
    monkeypatch.setenv("CIFAKE_PATH", str(env))
    monkeypatch.setattr(sources, "DEFAULT_LOCATIONS", (tmp_path / "nope",))
    assert resolve_source() == env.resolve()
    assert resolve_source(None) == env.resolve()


def test_resolve_missing_env_path(tmp_path, monkeypatch):
    monkeypatch.setenv("CIFAKE_PATH", str(tmp_path / "gone.zip"))
    with pytest.raises(DataError, match=r"gone\.zip \(CIFAKE_PATH\)"):
        resolve_source()


def test_resolve_missing_explicit_path(tmp_path, monkeypatch):
    monkeypatch.delenv("CIFAKE_PATH", raising=False)
    with pytest.raises(DataError, match=r"No file or folder at .*missing\.zip \(the given path\)"):
        resolve_source(tmp_path / "missing.zip")


def test_resolve_default_locations(tmp_path, monkeypatch):
    monkeypatch.delenv("CIFAKE_PATH", raising=False)
    first, second, third = tmp_path / "a.zip", tmp_path / "b", tmp_path / "c.zip"
    second.mkdir()
    third.write_bytes(b"")
    monkeypatch.setattr(sources, "DEFAULT_LOCATIONS", (first, second, third))
    assert resolve_source() == second.resolve()
    first.write_bytes(b"")
    assert resolve_source() == first.resolve()


def test_resolve_nothing_found(tmp_path, monkeypatch):
    monkeypatch.delenv("CIFAKE_PATH", raising=False)
    monkeypatch.setattr(sources, "DEFAULT_LOCATIONS", (tmp_path / "x.zip", tmp_path / "y"))
    with pytest.raises(DataError, match="CIFAKE not found. Looked in: .*x.zip, .*y"):
        resolve_source()
