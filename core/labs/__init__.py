"""Experiments on the models: the filters lab (train on filtered images), the robustness
battery, adversarial attacks, the human-vs-machine quiz, the limits of the verdicts (the
off-distribution score's fit and flag rates, the stability check's unstable share), and their
figures.

Belongs here: studies that combine data, models and verdicts and write lab reports to
``models/``. Not here: the models themselves (``core.models``) or the verdict of one image
(``core.detect``).
"""
