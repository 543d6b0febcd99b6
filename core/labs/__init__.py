"""Experiments on the models: the filters lab (train on filtered images), the robustness
battery, adversarial attacks, the cross-generator matrix, the human-vs-machine quiz, the limits
of the verdicts (the off-distribution score's flag rates, ``ood_study``; the stability check's
unstable share, ``stability_study``), evaluation on your own labelled images, the Training lab's
runner, and their figures; where quiz rounds are kept (``quiz_store``), lessons and the views
their steps open (``lessons``, ``lesson_views``, ``lesson_material``), and what each CNN channel
responds to across the test set (``inside_channels``).

Belongs here: studies that combine data, models and verdicts and write lab reports to
``models/``. Not here: the models themselves (``core.models``) or the verdict of one image
(``core.detect``).
"""
