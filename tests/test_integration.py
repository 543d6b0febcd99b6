"""The real CIFAKE zip: counts, duplicates, the CLI, and the committed summary.

Uses the default decoded-array cache (``core.data.dataset.CACHE_DIR``), shared with the app and
reruns: the first run decodes all 120,000 images (about 10 s), later runs read the cache.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers import REPO_ROOT

from core.analysis.features import FEATURES, feature_table
from core.analysis.summary import dataset_features, read_committed_embedding, read_committed_stats
from core.data.dataset import CACHE_DIR, load_dataset
from core.data.quality import duplicate_report
from core.data.sources import CLASS_NAMES

pytestmark = pytest.mark.real_data

COUNTS = {"train": {"REAL": 50_000, "FAKE": 50_000}, "test": {"REAL": 10_000, "FAKE": 10_000}}


@pytest.fixture(scope="module")
def dataset(cifake_zip):
    return load_dataset(cifake_zip, cache_dir=CACHE_DIR)


@pytest.fixture(scope="module")
def report(dataset):
    return duplicate_report(dataset.hashes, dataset.labels, dataset.splits)


def test_counts(dataset):
    assert len(dataset) == 120_000
    assert dataset.images.shape == (120_000, 32, 32, 3)
    assert dataset.counts() == COUNTS
    assert dataset.skipped == []
    assert dataset.split_given is True


def test_ten_classes_ten_percent_each(dataset):
    class_counts = dataset.class_counts()
    for split, per_label in COUNTS.items():
        for label, total in per_label.items():
            assert class_counts[split][label] == {name: total // 10 for name in CLASS_NAMES[1:]}


def test_duplicates_and_leak(report):
    s = report.summary
    assert s["leaked_test"] == 378
    assert len(report.leaked_test) == 378
    assert s["duplicate_groups"] == 1336
    assert s["unique_contents"]["train/FAKE"] == 49_080
    assert s["unique_contents"]["test/FAKE"] == 9_962
    assert s["unique_contents"]["train/REAL"] == 50_000
    assert s["unique_contents"]["test/REAL"] == 10_000
    assert s["leakfree_test"] == 20_000 - 378
    assert s["groups_by_location"]["across_labels"] == 0


def test_cli_info_json(cifake_zip):
    result = subprocess.run(
        [sys.executable, "-m", "core", "info", "--data", str(cifake_zip), "--json"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["counts"] == COUNTS
    assert info["leaked_test"] == 378
    assert info["duplicate_groups"] == 1336


@pytest.fixture(scope="module")
def committed():
    stats = read_committed_stats()
    assert stats is not None, "data/summary/stats.json is missing"
    return stats


def test_committed_stats_match_dataset(dataset, report, committed):
    assert committed.meta["fingerprint"] == dataset.fingerprint
    assert committed.meta["n_images"] == 120_000
    leak_examples = committed.duplicates["leak_examples"]
    assert {k: v for k, v in committed.duplicates.items() if k != "leak_examples"} == report.summary
    assert len(leak_examples) == 12
    for pair in leak_examples:  # each example: the same content in test and in train
        rows = dataset.rows_of(pair)
        assert (rows >= 0).all() and set(dataset.splits[rows]) == {0, 1}
        assert len(set(dataset.hashes[rows])) == 1
    assert committed.counts == dataset.counts()
    assert committed.class_counts == dataset.class_counts()


def test_committed_feature_medians_match(dataset, committed):
    features = dataset_features(dataset)  # from the shared cache after the first run
    assert features.shape == (120_000, len(FEATURES))
    # the (possibly cached) table agrees with a fresh computation on a random sample
    rows = np.sort(np.random.default_rng(0).choice(len(dataset), 3000, replace=False))
    np.testing.assert_allclose(feature_table(dataset.images[rows]), features[rows],
                               rtol=1e-4, atol=1e-4)
    column = list(FEATURES).index("laplacian_var")
    for lab, label in enumerate(("REAL", "FAKE")):
        median = float(np.median(features[dataset.labels == lab, column]))
        box = committed.group("all", label)["feature_box"]["laplacian_var"]
        assert box["median"] == pytest.approx(median, rel=1e-3)
    # REAL photos are sharper than the Stable Diffusion renderings on this measure
    real = committed.group("all", "REAL")["feature_box"]["laplacian_var"]["median"]
    fake = committed.group("all", "FAKE")["feature_box"]["laplacian_var"]["median"]
    assert real != fake


def test_committed_embedding_matches(dataset):
    embedding = read_committed_embedding()
    assert embedding is not None
    assert embedding["meta"]["fingerprint"] == dataset.fingerprint
    rows = dataset.rows_of(embedding["points"]["path"])
    assert (rows >= 0).all()
    assert dataset.labels[rows].tolist() == embedding["points"]["label"]
    assert dataset.splits[rows].tolist() == embedding["points"]["split"]
