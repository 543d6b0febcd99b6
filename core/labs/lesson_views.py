"""The views a lesson step can show: each view's name, what it shows in one line, and its
settings (type, default, allowed values or range).

Pure data: lesson files are checked against this registry (``core.labs.lessons``) and the app
renders each view by name (``pages/_lesson_views.py``, one function per view).
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import Any

from core.data.sources import CLASS_NAMES
from core.detect.explain import METHODS
from core.detect.inside import PARTS

__all__ = ["CLASSES", "CNN_MODELS", "PERTURBATIONS", "SHIPPED_MODELS", "VIEWS", "Setting",
           "View", "views_markdown"]

CLASSES = CLASS_NAMES[1:]  # the ten CIFAR-10 classes
CNN_MODELS = ("flagship", "flagship_robust", "scanner", "generalist", "generalist_novae",
              "bn5_cnn", "lenet2", "reference_cnn", "lenet")
SHIPPED_MODELS = (*CNN_MODELS, "mlp", "svm", "random_forest", "knn", "decision_tree", "logreg",
                  "naive_bayes")
EMBEDDED_CNNS = ("flagship", "scanner", "reference_cnn")  # coordinates in data/summary/
PERTURBATIONS = ("jpeg", "blur", "noise", "rescale", "crop", "gray_world")
_KINDS = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a text",
          "list": "a list of texts"}


@dataclass(frozen=True)
class Setting:
    """One setting of a view.

    Attributes
    ----------
    name, description : str
    kind : {"int", "float", "bool", "str", "list"}
        The TOML type a lesson file must give ("list": a list of texts).
    default
        The value when a step leaves the setting out.
    choices : tuple or None
        The allowed values (for a "list", of each item).
    low, high : float or None
        The allowed range of an "int" or "float" (inclusive).
    pattern : str or None
        A regular expression a "str" must match in full.
    """

    name: str
    kind: str
    default: Any
    description: str
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    pattern: str | None = None

    def allowed(self) -> str:
        """The allowed values in words."""
        if self.choices is not None:
            items = ", ".join(str(c) for c in self.choices)
            return f"any of: {items}" if self.kind == "list" else f"one of: {items}"
        if self.low is not None and self.high is not None:
            return f"{_KINDS[self.kind]} from {self.low:g} to {self.high:g}"
        if self.pattern is not None:
            return f"{_KINDS[self.kind]} matching {self.pattern}"
        return _KINDS[self.kind]

    def check(self, value: Any) -> Any:
        """``value`` when it is allowed (a tuple for a list); raises ValueError saying why not."""
        kind_ok = {
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, int | float) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
            "str": isinstance(value, str),
            "list": isinstance(value, list) and all(isinstance(v, str) for v in value),
        }[self.kind]
        if not kind_ok:
            raise ValueError(f"{value!r} is {_type_name(value)}; expected {_KINDS[self.kind]}")
        if self.kind == "list":
            wrong = [v for v in value if self.choices is not None and v not in self.choices]
            if wrong or not value or len(set(value)) < len(value):
                raise ValueError(f"{value!r} is not allowed; expected a non-empty list without "
                                 f"repeats of {self.allowed().removeprefix('any of: ')}")
            return tuple(value)
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{value!r} is not allowed; expected {self.allowed()}")
        if self.low is not None and not self.low <= value <= self.high:
            raise ValueError(f"{value!r} is out of range; expected {self.allowed()}")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise ValueError(f"{value!r} is not allowed; expected {self.allowed()}")
        return value


def _type_name(value: Any) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a text",
             list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)


@dataclass(frozen=True)
class View:
    """A view a step can show: its name in lesson files, one line on what it shows, what it
    shows without the dataset, its settings, and whether it runs a trained CNN (TensorFlow:
    seconds to import, worth preparing a few steps ahead)."""

    name: str
    description: str
    without_data: str
    settings: tuple[Setting, ...] = ()
    runs_models: bool = False

    def setting(self, name: str) -> Setting | None:
        return next((s for s in self.settings if s.name == name), None)

    def defaults(self) -> dict[str, Any]:
        return {s.name: s.default for s in self.settings}


def _class_setting() -> Setting:
    return Setting("class", "str", "all", "the CIFAR class the statistics are restricted to",
                   choices=("all", *CLASSES))


VIEWS: dict[str, View] = {view.name: view for view in (
    View("text", "The step's text alone, in large type (an opening or closing step).",
         "the same"),
    View("real_vs_fake",
         "REAL photos and FAKE renderings of the same classes side by side, pixels enlarged.",
         "the committed counts per class; the images need the dataset",
         (Setting("classes", "list", ("airplane", "bird", "cat", "horse", "ship"),
                  "the classes shown, one column group each", choices=CLASSES),
          Setting("per_class", "int", 2, "images per class and label", low=1, high=4),
          Setting("split", "str", "test", "the split the images come from",
                  choices=("test", "train")),
          Setting("seed", "int", 0, "which random images (another seed, other images)",
                  low=0, high=999_999))),
    View("quiz_items",
         "A few test images to judge (real or AI-generated?), answers revealed on a click.",
         "a message that the images need it",
         (Setting("n", "int", 3, "how many images", low=2, high=8),
          Setting("seed", "int", 1, "which images (half REAL, half FAKE, shuffled)",
                  low=0, high=999_999))),
    View("pixel_histograms",
         "Share of pixels at each intensity per colour channel, REAL vs FAKE, and the mean "
         "colour values.",
         "the same (committed statistics of the full CIFAKE)", (_class_setting(),)),
    View("blur_background",
         "Blur (Laplacian variance) and background-defect histograms, REAL vs FAKE, and the "
         "images whose backgrounds score highest.",
         "the histograms; the example images need the dataset",
         (_class_setting(),
          Setting("examples", "bool", True, "show the highest-scoring images under the "
                                            "histograms"))),
    View("spectrum",
         "Mean frequency spectrum of REAL and of FAKE images, their difference and the radial "
         "power curve.",
         "the same (committed statistics)",
         (_class_setting(),
          Setting("radial", "bool", True, "add the radial power curve"))),
    View("embedding_pair",
         "Two maps of the same 2,000 images: t-SNE (or PCA) on raw pixels beside one in a "
         "trained CNN's features.",
         "the same (committed coordinates)",
         (Setting("method", "str", "tsne", "t-SNE or PCA", choices=("tsne", "pca")),
          Setting("model", "str", "flagship", "the CNN whose features make the second map",
                  choices=EMBEDDED_CNNS),
          Setting("colour", "str", "label", "colour the points by label or by class",
                  choices=("label", "class")))),
    View("training_live",
         "A CNN trains live (the Training lab's reference CNN), its loss and accuracy curves "
         "growing on screen; one training at a time per server, others queue.",
         "the shipped reference CNN's committed training curve; live training needs the "
         "dataset",
         (Setting("epochs", "int", 3, "training epochs", low=1, high=5),
          Setting("images", "int", 5000, "training images",
                  choices=(1000, 2000, 5000, 10_000))), runs_models=True),
    View("gradcam",
         "Heat maps of where a CNN found its evidence, on one FAKE and one REAL test image.",
         "a message that the images need it",
         (Setting("model", "str", "flagship", "the CNN explained", choices=CNN_MODELS),
          Setting("method", "str", "Grad-CAM", "the heat-map method", choices=METHODS),
          Setting("seed", "int", 0, "which two test images", low=0, high=999_999)),
         runs_models=True),
    View("inside_cnn",
         "Inside the CNN: the network as its blocks, every block's activation maps on one test "
         "image, the learned filters, one convolution step by step, and the channels that "
         "separate real from fake (the Inside the CNN page, with these settings).",
         "uploads only: the test images and the channel statistics need the dataset",
         (Setting("model", "str", "flagship", "the CNN opened", choices=CNN_MODELS),
          Setting("image", "int", -1, "the test image, by its position among the test images "
                                      "(-1: the first FAKE one)", low=-1, high=19_999),
          Setting("part", "str", "Activation maps", "the part shown first", choices=PARTS)),
         runs_models=True),
    View("confidence",
         "How sure is it: calibration (reliability before and after), the inconclusive band and "
         "abstention on unusual or changed inputs.",
         "the same (committed reports)",
         (Setting("model", "str", "flagship", "the model described", choices=CNN_MODELS),
          Setting("band", "float", 0.1, "half-width of the inconclusive band around the "
                                        "threshold", low=0.0, high=0.3))),
    View("failures",
         "Where it fails: accuracy under JPEG re-saving and blur, and on fakes from generators "
         "it never saw.",
         "the same (committed reports)",
         (Setting("models", "list", ("flagship", "flagship_robust", "reference_cnn"),
                  "the models compared", choices=SHIPPED_MODELS),
          Setting("perturbations", "list", ("jpeg", "blur"), "the changes shown",
                  choices=PERTURBATIONS),
          Setting("generators", "bool", True, "add the fakes of generators never seen in "
                                              "training"),
          Setting("metric", "str", "accuracy", "accuracy (at each model's threshold) or AUROC",
                  choices=("accuracy", "auroc")))),
    View("class_quiz",
         "A class quiz round: one round code for everyone, big, with a link that opens the quiz "
         "with it, and the class's results so far.",
         "the code and the link; playing needs the dataset",
         (Setting("code", "str", "", "the round code (4-12 letters or digits); empty: a code of "
                                     "the day, the same for everyone following this lesson today",
                  pattern=r"([A-Za-z0-9]{4,12})?"),)),
)}


def views_markdown(width: int = 100) -> str:
    """The registry in Markdown, lines wrapped at ``width`` (for the lesson format's
    documentation): a section per view, a bullet per setting."""
    out = []
    for view in VIEWS.values():
        out += [f"#### `{view.name}`", "", *textwrap.wrap(
            f"{view.description} Without the dataset: {view.without_data}.", width), ""]
        for s in view.settings:
            out += textwrap.wrap(f"- `{s.name}` (default `{_toml(s.default)}`; {s.allowed()}): "
                                 f"{s.description}.", width, subsequent_indent="  ")
        out += ["- no settings"] if not view.settings else []
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _toml(value: Any) -> str:
    """A value as a lesson file writes it."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)
