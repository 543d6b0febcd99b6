"""How detectors fare on generators they never saw: the cross-generator matrix, every shipped
model on every fake source, Fréchet distances of the sources, and the off-distribution score on
them (``python -m core generalize`` -> ``models/generalization.json``).

The matrix trains one detector architecture afresh on REAL vs each fake source and on REAL vs
every source but one, with the same seed, sizes and schedule, and tests each on every source:
the REAL side of a test is always CIFAKE's leak-free test REAL, the FAKE side that source's test
images (``core.models.fake_sources``).
"""

from __future__ import annotations

import os
import time

import numpy as np
from sklearn.metrics import roc_auc_score

from core.data.dataset import Dataset
from core.detect import ood
from core.models.artifacts import MODELS_DIR, list_reports, load_predictor, read_json, write_json
from core.models.evaluate import hardware
from core.models.fake_sources import SOURCES, real_images, source_images
from core.models.generators import GENERATORS_DIR
from core.models.metrics import accuracy_at, frechet_distance
from core.models.train import TrainConfig, fit_keras
from core.progress import ProgressFn, silent, subrange

__all__ = ["REPORT", "FEATURES_MODEL", "build_generalization", "reading", "train_sets"]

REPORT = "generalization.json"
FEATURES_MODEL = "flagship"  # whose penultimate features the Fréchet distances use


def train_sets(sources: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Each source alone, then every source but one (when there are three or more)."""
    alone = [(s,) for s in sources]
    but_one = ([tuple(s for s in sources if s != left) for left in sources]
               if len(sources) > 2 else [])
    return alone + but_one


def _test_row(p_real: np.ndarray, p_fake: np.ndarray, threshold: float) -> dict:
    y = np.r_[np.zeros(len(p_real)), np.ones(len(p_fake))]
    p = np.r_[p_real, p_fake]
    return {"auroc": round(float(roc_auc_score(y, p)), 4),
            "accuracy": round(accuracy_at(p, y, threshold), 4),
            "fake_recall": round(float(np.mean(p_fake >= threshold)), 4)}


def _matrix(real: dict, fakes: dict, sources, *, architecture, n_train, epochs, seed,
            progress) -> list[dict]:
    import keras

    from core.models.deep import build_model

    rows = []
    sets = train_sets(sources)
    for i, trained_on in enumerate(sets):
        progress(i / len(sets), f"matrix: training on {' + '.join(trained_on)}")
        parts = {}
        for part, n in (("train", n_train), ("val", n_train // 9)):
            share = n // len(trained_on)  # the fakes are split equally among the sources
            x_fake = np.concatenate([fakes[s][part][:share] for s in trained_on])
            x = np.concatenate([real[part][:len(x_fake)], x_fake])
            parts[part] = (x, np.r_[np.zeros(len(x) - len(x_fake)), np.ones(len(x_fake))])
        config = TrainConfig(architecture, epochs=epochs, augment=("flip",), seed=seed,
                             patience=epochs)
        keras.utils.set_random_seed(seed)
        start = time.perf_counter()
        model = fit_keras(build_model(architecture), parts["train"], parts["val"], config,
                          verbose=0)
        seconds = time.perf_counter() - start
        score = lambda x, model=model: np.asarray(  # noqa: E731
            model.predict(x.astype(np.float32), batch_size=1024, verbose=0)).reshape(-1)
        p_real = score(real["test"])
        rows.append({
            "trained_on": list(trained_on), "n_train": int(len(parts["train"][0])),
            "seconds": round(seconds, 1),
            "tests": {s: _test_row(p_real, score(fakes[s]["test"]), 0.5) for s in sources},
        })
    return rows


def _shipped(real_test: np.ndarray, fakes: dict, sources, models_dir, keep: set[str],
             progress) -> tuple[dict, dict]:
    """Every shipped model's AUROC, accuracy at its threshold and share of fakes caught on
    every source; and, from the same forward passes, the penultimate features of the models in
    ``keep`` (``{name: (predictor, {"REAL test" or source: features})}``)."""
    out, kept = {}, {}
    reports = list_reports(models_dir)
    for i, report in enumerate(reports):
        name = report["name"]
        progress(i / len(reports), f"shipped models: {name}")
        predictor = load_predictor(name, models_dir)
        sets = {"REAL test": real_test, **{s: fakes[s]["test"] for s in sources}}
        if name in keep:
            both = {k: predictor.predict_with_features(x) for k, x in sets.items()}
            scores = {k: p for k, (p, _) in both.items()}
            kept[name] = (predictor, {k: f for k, (_, f) in both.items()})
        else:
            scores = {k: predictor.predict(x) for k, x in sets.items()}
        threshold = float(report.get("threshold", 0.5))
        out[name] = {
            "family": report.get("family"), "threshold": threshold,
            "extra_fakes": report.get("split", {}).get("extra_fakes", {}).get("sources", []),
            "tests": {s: _test_row(scores["REAL test"], scores[s], threshold) for s in sources}}
    return out, kept


def _distances_and_ood(real_train: np.ndarray, kept: dict, sources, features_model,
                       gaussians: dict) -> tuple[dict, dict]:
    """Fréchet distances to REAL test in the features of ``features_model``, and the
    off-distribution score's flag rate and AUROC (REAL test vs each source) per fitted model,
    from the features ``_shipped`` kept."""
    predictor, features = kept[features_model]
    real_test = features["REAL test"]
    distances = {"features": f"{features_model} penultimate layer "
                             f"({real_test.shape[1]} dimensions), not Inception: not comparable "
                             "with published FID",
                 "REAL train": round(frechet_distance(predictor.features(real_train),
                                                      real_test), 2)}
    for s in sources:
        distances[s] = round(frechet_distance(features[s], real_test), 2)
    flags = {}
    for name, gaussian in gaussians.items():
        base = gaussian.ratio(kept[name][1]["REAL test"])
        entry: dict[str, float | dict[str, float]] = {
            "REAL test": round(float(np.mean(base > 1)), 4)}
        for s in sources:
            scores = gaussian.ratio(kept[name][1][s])
            entry[s] = {"flag_rate": round(float(np.mean(scores > 1)), 4),
                        "auroc_vs_real": round(float(roc_auc_score(
                            np.r_[np.zeros(len(base)), np.ones(len(scores))],
                            np.r_[base, scores])), 4)}
        flags[name] = entry
    return distances, flags


def build_generalization(dataset: Dataset, sources: tuple[str, ...] = tuple(SOURCES), *,
                         architecture: str = "scanner", n_train: int = 16_000,
                         n_test: int = 2000, epochs: int = 3, seed: int = 0,
                         features_model: str = FEATURES_MODEL,
                         models_dir: str | os.PathLike = MODELS_DIR,
                         generators_dir: str | os.PathLike = GENERATORS_DIR,
                         reuse_matrix: bool = False, command: str = "",
                         progress: ProgressFn = silent) -> dict:
    """Measure everything in ``models/generalization.json`` and write it; returns the report.

    ``n_train`` images (half REAL, half fake) train each matrix detector, a ninth of that
    validates it, and ``n_test`` REAL plus ``n_test`` fakes per source test every model. With
    ``reuse_matrix`` the matrix of an existing report with the same set-up and sources is kept
    (only the shipped models, distances and off-distribution rates are measured again).
    """
    if len(set(sources)) < 2:
        raise ValueError("the matrix needs at least two fake sources (what a detector never "
                         "saw is the point)")
    gaussians = ood.load_gaussians(models_dir)
    missing = {features_model, *gaussians} - {r["name"] for r in list_reports(models_dir)}
    if missing:
        raise ValueError(f"no report for {', '.join(sorted(missing))} in {models_dir}: the "
                         "distances and off-distribution rates need it")
    start = time.perf_counter()
    half = n_train // 2
    sizes = {"train": half, "val": half // 9, "test": n_test}
    real = {part: real_images(dataset, part, n, seed=seed) for part, n in sizes.items()}
    fakes = {}
    for i, s in enumerate(sources):
        make = subrange(progress, 0.1 * i / len(sources), 0.1 * (i + 1) / len(sources))
        fakes[s] = {part: source_images(s, dataset, part, n, seed=seed,
                                        generators_dir=generators_dir, progress=make)
                    for part, n in sizes.items()}
    setup = {"architecture": architecture, "n_train": n_train, "n_val": n_train // 9,
             "n_test_each": n_test, "epochs": epochs, "augment": ["flip"], "seed": seed,
             "real_test": "CIFAKE leak-free test REAL", "threshold": 0.5}
    earlier = read_json(REPORT, models_dir) if reuse_matrix else None
    if earlier and earlier["setup"] == setup and list(earlier["sources"]) == list(sources):
        matrix = earlier["matrix"]
    else:
        matrix = _matrix(real, fakes, sources, architecture=architecture, n_train=n_train,
                         epochs=epochs, seed=seed, progress=subrange(progress, 0.1, 0.8))
    shipped, kept = _shipped(real["test"], fakes, sources, models_dir,
                             {features_model, *gaussians}, subrange(progress, 0.8, 0.95))
    distances, flags = _distances_and_ood(real["train"], kept, sources, features_model, gaussians)
    progress(1.0, "done")
    report = {
        "command": command, "hardware": hardware(),
        "seconds": round(time.perf_counter() - start, 1),
        "sources": {s: {"family": SOURCES[s].family, "title": SOURCES[s].title} for s in sources},
        "setup": setup,
        "matrix": matrix, "shipped": shipped, "frechet": distances, "ood": flags,
    }
    write_json(report, REPORT, models_dir)
    return report


def reading(report: dict) -> list[str]:
    """Plain-language sentences on what the matrix shows, from its numbers."""
    rows = report["matrix"]
    seen = [t["auroc"] for r in rows for s, t in r["tests"].items() if s in r["trained_on"]]
    unseen = {s: [r["tests"][s]["auroc"] for r in rows if s not in r["trained_on"]]
              for s in report["sources"]}
    all_unseen = [v for values in unseen.values() for v in values]
    out = [f"On the sources it trained on, a detector reaches AUROC "
           f"{min(seen):.2f}–{max(seen):.2f}; "
           f"on sources it never saw, {min(all_unseen):.2f}–{max(all_unseen):.2f} "
           "(0.5 is a coin toss)."]
    alone = {r["trained_on"][0]: np.mean([t["auroc"] for s, t in r["tests"].items()
                                          if s not in r["trained_on"]])
             for r in rows if len(r["trained_on"]) == 1}
    if len(alone) > 1:
        best, worst = max(alone, key=alone.__getitem__), min(alone, key=alone.__getitem__)
        out.append(f"Trained on **{best}** alone, a detector carries best to the others (mean "
                   f"AUROC {alone[best]:.2f} on them); trained on **{worst}** alone, worst "
                   f"({alone[worst]:.2f}): what a detector can learn from one generator decides "
                   "how far it travels.")
    for s in unseen:
        best = max((r for r in rows if s not in r["trained_on"]),
                   key=lambda r: r["tests"][s]["auroc"])
        out.append(f"**{s}** unseen: best AUROC {best['tests'][s]['auroc']:.2f}, by the detector "
                   f"trained on {' + '.join(best['trained_on'])}.")
    return out
