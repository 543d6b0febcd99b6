"""The model zoo: Keras and scikit-learn builders, augmentation, training, the evaluation
harness with test-time augmentation (``tta``, ``evaluate_tta``) and the weighted ensemble
(``ensemble_weights``), metrics and calibration of P(FAKE) scores, model files and reports in
``models/``, the
published references, and the tables, figures and model cards that compare models.

Belongs here: making, saving, loading and measuring models on a dataset. Not here: scoring
uploaded files and verdicts for users (``core.detect``), the labs (``core.labs``).
"""
