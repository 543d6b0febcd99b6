"""A plain CNN built from a few knobs (the Training lab's and the sweeps' model).

Each convolutional block is a 3x3 convolution (ReLU) whose filters double from block to block,
followed by a 2x2 max-pool except after the last block, as in the student reports' CNN; then
the flattened features, the dense layers (ReLU, each followed by dropout when set) and one
sigmoid P(FAKE). L2 applies to every kernel. ``REFERENCE`` reproduces ``reference_cnn``
(355,649 parameters at 32x32).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["LIMITS", "REFERENCE", "Knobs", "build_from_knobs", "describe"]

# knob -> (lowest, highest) the page and the command line accept
LIMITS = {"conv_blocks": (1, 4), "filters": (4, 128), "dense_layers": (0, 4),
          "neurons": (4, 1024), "l2": (0.0, 1.0), "dropout": (0.0, 0.9)}


@dataclass(frozen=True)
class Knobs:
    """The architecture of a knob-built CNN."""

    conv_blocks: int = 3
    filters: int = 32  # of the first block; each later block has twice as many
    dense_layers: int = 1
    neurons: int = 128  # per dense layer
    l2: float = 0.0  # L2 penalty on every kernel
    dropout: float = 0.0  # after the flattened features and after each dense layer

    def __post_init__(self):
        for knob, (low, high) in LIMITS.items():
            value = getattr(self, knob)
            if not low <= value <= high:
                raise ValueError(f"{knob} must be between {low} and {high}, not {value}")

    def as_dict(self) -> dict:
        return asdict(self)


REFERENCE = Knobs()


def describe(knobs: Knobs) -> str:
    """A short readable name such as ``3 conv (32-64-128) + 1x128 dense, L2 0.001, dropout 0.2``."""
    filters = "-".join(str(knobs.filters * 2**i) for i in range(knobs.conv_blocks))
    dense = f"{knobs.dense_layers}x{knobs.neurons} dense" if knobs.dense_layers else "no dense"
    extras = ([f"L2 {knobs.l2:g}"] if knobs.l2 else []) + (
        [f"dropout {knobs.dropout:g}"] if knobs.dropout else [])
    return ", ".join([f"{knobs.conv_blocks} conv ({filters}) + {dense}", *extras])


def build_from_knobs(knobs: Knobs, size: int = 32):
    """The functional Keras model of ``knobs`` for ``size`` x ``size`` RGB images (0-255); its
    last convolution is ``last_conv``, its penultimate layer ``features``."""
    import keras
    from keras import layers

    from core.models.deep import LAST_CONV, PENULTIMATE

    regularizer = keras.regularizers.L2(knobs.l2) if knobs.l2 else None
    # every layer is named: Streamlit resets Keras's automatic names after each script run, in
    # every thread, so automatic names in a model built in the background can collide
    inputs = keras.Input((size, size, 3), name="image")
    x = layers.Rescaling(1 / 255, name="rescale")(inputs)
    side = size
    for block in range(1, knobs.conv_blocks + 1):
        last = block == knobs.conv_blocks
        padding = "valid" if side >= 5 else "same"  # a small grid keeps its size
        x = layers.Conv2D(knobs.filters * 2 ** (block - 1), 3, padding=padding,
                          activation="relu", kernel_regularizer=regularizer,
                          name=LAST_CONV if last else f"conv_{block}")(x)
        side = side - 2 if padding == "valid" else side
        if not last and side >= 2:
            x = layers.MaxPooling2D(name=f"pool_{block}")(x)
            side //= 2
    x = layers.Flatten(name=PENULTIMATE if not knobs.dense_layers else "flatten")(x)
    for i in range(1, knobs.dense_layers + 1):
        if knobs.dropout:
            x = layers.Dropout(knobs.dropout, name=f"dropout_{i}")(x)
        last = i == knobs.dense_layers
        x = layers.Dense(knobs.neurons, activation="relu", kernel_regularizer=regularizer,
                         name=PENULTIMATE if last else f"dense_{i}")(x)
    if knobs.dropout:
        x = layers.Dropout(knobs.dropout, name="dropout_out")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="p_fake",
                           kernel_regularizer=regularizer)(x)
    return keras.Model(inputs, outputs, name="knob_cnn")
