"""Published CIFAKE test accuracies the project is measured against (shown beside ours)."""

__all__ = ["REFERENCES", "MODEL_REFERENCES"]

# name -> (test accuracy, where it comes from)
REFERENCES = {
    "cifake_paper_cnn": (0.9298, "CIFAKE paper (Bird & Lotfi 2023), best CNN"),
    "student_3conv_cnn": (0.925, "student report, 3-conv CNN"),
    "student_vit_finetuned": (0.9865, "student report, fine-tuned ViT (pre-trained)"),
    "open_study_cnn": (0.976, "best open study, CNN trained from scratch"),
    "open_study_vit_s": (0.9877, "best open study, ViT-S pre-trained on ImageNet"),
    "study_lenet": (0.94, "reference study, LeNet"),
    "study_lenet2": (0.952, "reference study, LeNet with doubled convolutions"),
    "study_logreg": (0.677, "reference study, logistic regression on pixels"),
    "study_naive_bayes": (0.593, "reference study, Gaussian naive Bayes"),
    "study_decision_tree": (0.698, "reference study, decision tree"),
    "study_random_forest": (0.831, "reference study, random forest"),
    "study_svm": (0.811, "reference study, SVM"),
    "study_mlp": (0.750, "reference study, MLP"),
}

# our model name -> the reference it is compared with
MODEL_REFERENCES = {
    "reference_cnn": "student_3conv_cnn",
    "lenet": "study_lenet",
    "lenet2": "study_lenet2",
    "logreg": "study_logreg",
    "naive_bayes": "study_naive_bayes",
    "decision_tree": "study_decision_tree",
    "random_forest": "study_random_forest",
    "svm": "study_svm",
    "mlp": "study_mlp",
    "ours": "student_vit_finetuned",
    "flagship": "open_study_vit_s",
    "scanner": "open_study_cnn",
}
