"""The command line, run as users run it: ``python -m core``, its listing, ``info`` and
``stats``, and which commands start without TensorFlow."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers import REPO_ROOT, cifake_files, run_cli, write_zip

from core.cli import COMMANDS


@pytest.fixture(scope="module")
def dup_zip(tmp_path_factory):
    """8 images per folder; test/FAKE/7 (8).jpg is a byte copy of train/FAKE/0.jpg (one leak)."""
    files = cifake_files(8)
    files["test/FAKE/7 (8).jpg"] = files["train/FAKE/0.jpg"]
    return write_zip(tmp_path_factory.mktemp("cli") / "dup.zip", files)


@pytest.fixture(scope="module")
def cli_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cli-cache")


def test_info_json(dup_zip, cli_cache):
    result = run_cli("info", "--data", dup_zip, "--json", cache_dir=cli_cache)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["counts"] == {"train": {"REAL": 8, "FAKE": 8}, "test": {"REAL": 8, "FAKE": 8}}
    assert info["duplicate_groups"] == 1
    assert info["leaked_test"] == 1
    assert info["leakfree_test"] == 15
    assert info["groups_by_location"]["across_splits"] == 1
    assert info["unique_contents"]["test/FAKE"] == 8
    assert info["size"] == 32 and info["split_given"] is True
    assert info["source"] == str(dup_zip.resolve())
    assert info["skipped"] == []
    assert info["class_counts"]["train"]["REAL"]["airplane"] == 1
    assert any(p.name.endswith("-32-v1") for p in cli_cache.iterdir())  # CIFAKE_CACHE honoured


def test_info_text(dup_zip, cli_cache):
    result = run_cli("info", "--data", dup_zip, cache_dir=cli_cache)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"Source: {dup_zip.resolve()} (images at 32x32)"
    assert lines[1].split() == ["split", "REAL", "FAKE"]
    assert lines[2].split() == ["train", "8", "8"]
    assert lines[3].split() == ["test", "8", "8"]
    assert "Duplicate groups (identical bytes): 1 (1 redundant copies)" in result.stdout
    assert "Test images leaked from train: 1; leak-free test: 15" in result.stdout
    assert "  airplane    1 / 1 / 1 / 1" in lines


def test_info_text_reports_skipped_and_seeded_split(tmp_path):
    files = {f"REAL/{i}.jpg": data for i, data in enumerate(cifake_files(3).values())}
    files.update({f"FAKE/{i}.jpg": data
                  for i, data in enumerate(cifake_files(3, seed=50).values())})
    files["FAKE/readme.txt"] = b"hello"
    source = write_zip(tmp_path / "flat.zip", files)
    result = run_cli("info", "--data", source, "--size", "16", cache_dir=tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    assert "(images at 16x16)" in result.stdout
    assert "No train/test folders: a seeded, stratified split was made." in result.stdout
    assert "Skipped 1 unreadable file(s):" in result.stdout
    assert "  FAKE/readme.txt: not an image" in result.stdout


def test_missing_path_exits_2(tmp_path):
    result = run_cli("info", "--data", tmp_path / "absent.zip", cache_dir=tmp_path / "cache")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "error: No file or folder at" in result.stderr
    assert "absent.zip" in result.stderr
    assert "Traceback" not in result.stderr


def test_corrupt_zip_exits_2(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(os.urandom(2048))
    result = run_cli("info", "--data", bad, "--json", cache_dir=tmp_path / "cache")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "error: bad.zip is not a readable zip archive" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_stats_writes_summary(dup_zip, cli_cache, tmp_path):
    out = tmp_path / "summary"
    result = run_cli("stats", "--data", dup_zip, "--out", out, "--sample", 40, cache_dir=cli_cache)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"wrote {out / 'stats.json'}",
                                          f"wrote {out / 'embedding.json'}"]
    assert sorted(p.name for p in out.iterdir()) == ["embedding.json", "stats.json"]
    stats = json.loads((out / "stats.json").read_text())
    assert list(stats) == ["meta", "counts", "class_counts", "duplicates", "feature_edges",
                           "groups"]
    assert stats["meta"]["n_images"] == 32 and stats["meta"]["source"] == "dup.zip"
    assert stats["duplicates"]["leaked_test"] == 1
    assert list(stats["groups"])[0] == "all"
    embedding = json.loads((out / "embedding.json").read_text())
    assert list(embedding) == ["meta", "points", "features", "coords"]
    assert embedding["meta"]["fingerprint"] == stats["meta"]["fingerprint"]
    n = embedding["meta"]["n"]
    assert n == 32  # 16 strata (2 labels x classes 1..8) x 40 // 16 = 2 rows each
    assert set(embedding["coords"]) == {"pixels/pca", "pixels/tsne", "features/pca",
                                        "features/tsne"}
    for coords in embedding["coords"].values():
        assert len(coords) == n and all(len(xy) == 2 for xy in coords)
    assert set(embedding["points"]) == {"path", "label", "class", "split"}
    assert all(len(v) == n for v in embedding["points"].values())
    assert len(embedding["features"]) == 9


@pytest.mark.slow
def test_stats_cnn_adds_a_models_coordinates_to_the_summary(dup_zip, cli_cache, tmp_path):
    out = tmp_path / "summary"
    assert run_cli("stats", "--data", dup_zip, "--out", out, "--sample", 40,
                   cache_dir=cli_cache).returncode == 0
    stats_before = (out / "stats.json").read_text()
    result = run_cli("stats", "--data", dup_zip, "--out", out, "--cnn", "lenet",
                     cache_dir=cli_cache)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"wrote {out / 'embedding.json'}"]
    assert (out / "stats.json").read_text() == stats_before
    sha = json.loads((REPO_ROOT / "models" / "lenet.json").read_text())["sha256"]
    coords = json.loads((out / "embedding.json").read_text())["coords"]
    assert set(coords) == {"pixels/pca", "pixels/tsne", "features/pca", "features/tsne",
                           f"cnn-lenet-{sha[:8]}/pca", f"cnn-lenet-{sha[:8]}/tsne"}
    assert len(coords[f"cnn-lenet-{sha[:8]}/tsne"]) == 32


def test_bad_sample_size_exits_2(dup_zip, cli_cache, tmp_path):
    result = run_cli("stats", "--data", dup_zip, "--out", tmp_path / "o", "--sample", 5,
                     cache_dir=cli_cache)
    assert result.returncode == 2
    assert "error: sample size must be between 10" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()


def test_help_lists_every_command_on_one_line():
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    listing = result.stdout.split("commands:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [line.split(maxsplit=1) for line in listing] == [[name, summary] for name, summary
                                                           in COMMANDS.items()]
    assert set(COMMANDS) >= {"info", "stats", "train", "evaluate", "sweep", "predict", "filters",
                             "robustness", "adversarial"}


@pytest.mark.parametrize("args", [[], ["nonsense"]])
def test_a_missing_or_unknown_command_is_a_usage_error(args):
    result = run_cli(*args)
    assert result.returncode == 2 and result.stdout == ""
    assert "usage: python -m core" in result.stderr


def imported_packages(*args, cache_dir) -> set[str]:
    """Top-level packages that ``python -m core ARGS`` imports (from ``-X importtime``)."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "core", *map(str, args)],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "CIFAKE_CACHE": str(cache_dir)})
    assert result.returncode == 0, result.stderr
    return {line.rsplit("|", 1)[1].strip().split(".")[0] for line in result.stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


@pytest.mark.parametrize("args", [["--help"], ["info", "--data", "{zip}"], ["stats", "--help"],
                                  ["sweep", "--help"], ["sweep", "cnn", "--help"],
                                  ["filters", "--help"], ["serve", "--help"],
                                  ["generator", "--help"], ["generalize", "--help"]])
def test_commands_without_models_start_without_tensorflow(args, dup_zip, cli_cache):
    imported = imported_packages(*(str(dup_zip) if a == "{zip}" else a for a in args),
                                 cache_dir=cli_cache)
    assert "core" in imported and not imported & {"tensorflow", "keras"}


@pytest.mark.slow
def test_train_imports_tensorflow(cli_cache):
    # the check above sees TensorFlow where a command loads it
    assert {"tensorflow", "keras"} <= imported_packages("train", "--help", cache_dir=cli_cache)


def test_the_installed_cifake_command_is_the_command_line():
    import shutil

    exe = shutil.which("cifake")
    if exe is None:
        reason = "the cifake command is not installed (pip install -e .)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    result = subprocess.run([exe, "info", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: cifake info")
    listing = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60).stdout
    assert all(f"  {name} " in listing for name in COMMANDS)
