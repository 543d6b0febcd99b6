"""Exact duplicates (same file bytes) and the train->test leak."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.sources import LABELS, SPLITS

__all__ = ["DuplicateReport", "duplicate_report", "leakfree_test_mask"]


@dataclass(frozen=True)
class DuplicateReport:
    """Groups of images with identical content hashes.

    Attributes
    ----------
    groups : list of ndarray
        Row indices of each group of two or more identical images, largest groups first.
    leaked_test : ndarray
        Row indices of test images whose content also occurs in train.
    summary : dict
        Counts for display and JSON (see ``duplicate_report``).
    """

    groups: list[np.ndarray]
    leaked_test: np.ndarray
    summary: dict


def duplicate_report(hashes: np.ndarray, labels: np.ndarray, splits: np.ndarray) -> DuplicateReport:
    """Find groups of identical content and test images leaked from train.

    Parameters
    ----------
    hashes : ndarray of shape (n,)
        Content hash per image.
    labels, splits : ndarray of shape (n,)
        0 REAL / 1 FAKE; 0 train / 1 test.

    Returns
    -------
    DuplicateReport
        Its summary has ``duplicate_groups``, ``images_in_duplicate_groups``,
        ``redundant_copies``, ``groups_by_location`` (within one split/label folder, across
        splits, across labels), ``unique_contents`` per split/label, ``leaked_test`` and
        ``leakfree_test``.
    """
    _, inverse, counts = np.unique(hashes, return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    groups = [g for g in np.split(order, np.cumsum(counts)[:-1]) if len(g) > 1]
    groups.sort(key=lambda g: (-len(g), g[0]))
    leak_free = leakfree_test_mask(hashes, splits)
    leaked = np.flatnonzero((splits == 1) & ~leak_free)

    within: dict[str, int] = {}
    across_splits = across_labels = 0
    for group in groups:
        n_splits, n_labels = len(set(splits[group])), len(set(labels[group]))
        across_splits += n_splits > 1
        across_labels += n_labels > 1
        if n_splits == 1 and n_labels == 1:
            key = f"{SPLITS[splits[group[0]]]}/{LABELS[labels[group[0]]]}"
            within[key] = within.get(key, 0) + 1
    folders = {
        f"{split}/{label}": (splits == s) & (labels == lab)
        for s, split in enumerate(SPLITS) for lab, label in enumerate(LABELS)
    }
    summary = {
        "duplicate_groups": len(groups),
        "images_in_duplicate_groups": int(sum(len(g) for g in groups)),
        "redundant_copies": int(sum(len(g) - 1 for g in groups)),
        "groups_by_location": {
            "within_one_folder": within,
            "across_splits": int(across_splits),
            "across_labels": int(across_labels),
        },
        "unique_contents": {k: int(len(np.unique(hashes[m]))) for k, m in folders.items()},
        "leaked_test": int(len(leaked)),
        "leakfree_test": int(leak_free.sum()),
    }
    return DuplicateReport(groups=groups, leaked_test=leaked, summary=summary)


def leakfree_test_mask(hashes: np.ndarray, splits: np.ndarray) -> np.ndarray:
    """Boolean mask of test images whose content does not occur anywhere in train."""
    return (splits == 1) & ~np.isin(hashes, hashes[splits == 0])
