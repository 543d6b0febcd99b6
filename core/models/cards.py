"""Model cards: what each trained model is, how it was made, how well it does and what it is for,
assembled from its report (and the robustness battery, when it covered the model)."""

from __future__ import annotations

from core.models.evaluate import total_training_seconds

__all__ = ["INTENDED_USE", "model_card"]

# architecture or family -> (what it is for, what it is not for)
INTENDED_USE = {
    "flagship": ("The most accurate verdict on one CIFAKE-like image (32x32, JPEG q75, "
                 "CIFAR-10 content vs Stable Diffusion 1.4).",
                 "Folder scans on a CPU (many times slower than the scanner: see Speed); images "
                 "from other generators, other sizes or other compression, where it was never "
                 "tested."),
    "scanner": ("Scoring whole folders fast: the default of Batch scan and the scan command.",
                "A final word on one contested image: the flagship is more accurate."),
    "classical": ("Teaching: what pixels alone, without learned filters, can tell apart.",
                  "Real decisions: far less accurate than any CNN."),
    "cnn": ("Comparison with the published CIFAKE architectures it reproduces.",
            "Real decisions on images unlike CIFAKE."),
}


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f} %"


def _pair(metrics: dict, key: str, fmt=_pct) -> str:
    """A test figure with its leak-free twin."""
    test, leakfree = metrics["test"], metrics["leakfree_test"]
    get = (lambda m: m["at_threshold"]["accuracy"]) if key == "accuracy" else (lambda m: m[key])
    return f"{fmt(get(test))} (leak-free {fmt(get(leakfree))})"


def _training_rows(report: dict) -> list[tuple[str, str]]:
    training = report.get("training") or {}
    rows = [("Training command", f"`{training['command']}`" if training.get("command") else "–")]
    if report["family"] != "classical":
        history = training.get("history") or {}
        epochs = len(history.get("val_loss", [])) or training.get("epochs")
        rows.append(("Schedule", training.get("schedule") or (
            f"{epochs} epochs, batch {training.get('batch_size')}, AdamW (peak learning rate "
            f"{training.get('learning_rate')}, weight decay {training.get('weight_decay', 5e-4)}), "
            f"cosine decay, label smoothing {training.get('label_smoothing', 0.0)}; augmentation: "
            f"{', '.join(training.get('augment') or []) or 'none'}")))
        if training.get("teacher"):
            rows.append(("Distilled from", f"`{training['teacher']}`"))
        if training.get("initial"):
            rows.append(("Continued from", f"`{training['initial']['file']}`"))
    seconds = total_training_seconds(training)
    rows.append(("Training time", "–" if seconds is None else f"{seconds / 60:.1f} min"
                 + (" (including the run it continued from)" if training.get("initial") else "")))
    rows.append(("Trained on", training.get("hardware", "–")))
    return rows


def model_card(report: dict, robustness: dict | None = None) -> dict[str, list[tuple[str, str]]]:
    """Sections of (label, value) rows describing one evaluated model."""
    split = report.get("split", {})
    metrics = report["metrics"]
    calibration = report.get("calibration") or {}
    test = metrics["test"]
    use = INTENDED_USE.get(report.get("architecture", ""),
                           INTENDED_USE.get(report["family"], INTENDED_USE["cnn"]))
    card = {
        "What it is": [
            ("Architecture", f"{report.get('architecture', report['name'])} ({report['family']}"
             + (f", {report['params']:,} parameters" if report.get("params") else "") + ")"),
            ("File", f"{report['file']}, {report['file_mb']:.2f} MB, "
                     f"sha256 {report['sha256'][:12]}…"),
            ("For", use[0]),
            ("Not for", use[1]),
        ],
        "Data and training": [
            ("Data", f"{report['data']['source']} (fingerprint {report['data']['fingerprint']}), "
             f"{report['input_size']}x{report['input_size']} images"),
            ("Split", f"train split, seeded ({split.get('seed')}) stratified: "
             f"{split.get('n_train', 0):,} training / {split.get('n_val', 0):,} validation images"),
            *_training_rows(report),
        ],
        "Metrics (test, with the leak-free twin)": [
            ("Accuracy at its threshold", _pair(metrics, "accuracy")),
            ("Accuracy at 0.5", f"{_pct(test['at_0.5']['accuracy'])} (leak-free "
             f"{_pct(metrics['leakfree_test']['at_0.5']['accuracy'])})"),
            ("Threshold (chosen on validation)", f"{report['threshold']:.3f}"),
            ("AUROC", _pair(metrics, "roc_auc", lambda v: f"{v:.4f}")),
            ("PR-AUC", _pair(metrics, "pr_auc", lambda v: f"{v:.4f}")),
            ("Log loss", _pair(metrics, "log_loss", lambda v: f"{v:.4f}")),
        ],
    }
    if calibration:
        before = test.get("uncalibrated", {}).get("ece")
        method = (f"Platt scaling: P = sigmoid({calibration['a']:.3f} · logit(p) "
                  f"{calibration['b']:+.3f})" if calibration["method"] == "platt" else
                  f"isotonic regression ({len(calibration['x'])} steps)")
        card["Calibration"] = [
            ("Method", f"{method}, fitted on {calibration['n_validation']:,} validation images"),
            ("ECE on test", f"{before:.4f} before, {test['ece']:.4f} after" if before is not None
             else f"{test['ece']:.4f}"),
            ("ECE on validation", f"{calibration['validation_ece_before']:.4f} before, "
             f"{calibration['validation_ece_after']:.4f} after"),
        ]
    if robustness and report["name"] in robustness.get("models", {}):
        scores = robustness["models"][report["name"]]
        rows = [("Clean", f"AUROC {scores['clean']['auroc']:.3f}, accuracy "
                 f"{_pct(scores['clean']['accuracy'])}")]
        for kind, severity in (("jpeg", "50"), ("blur", "1.0"), ("rescale", "16"), ("noise", "8")):
            if severity in scores.get(kind, {}):
                s = scores[kind][severity]
                label = robustness["perturbations"][kind]["label"]
                rows.append((f"{label} ({severity})", f"AUROC {s['auroc']:.3f}, accuracy "
                             f"{_pct(s['accuracy'])}"))
        card[f"Robustness ({robustness['set']})"] = rows
    speed = report.get("speed") or {}
    card["Speed"] = [
        ("Batch scoring", f"{speed.get('images_per_second', 0):,.0f} images/s"),
        ("One image", f"{speed.get('single_image_ms', 0):.2f} ms"),
        ("Measured on", speed.get("hardware", "–")),
    ]
    if report.get("notes"):
        card["Notes"] = [(f"{i + 1}", note) for i, note in enumerate(report["notes"])]
    return card
