"""Keras model builders: the reference CNNs, transfer-learning backbones and our own model.

Every builder returns a functional ``keras.Model`` that takes RGB images of shape
(size, size, 3) with values 0-255 and outputs one sigmoid P(FAKE). Preprocessing is inside the
model, so a saved ``.keras`` file is self-contained; the last convolution is named
``LAST_CONV`` for Grad-CAM. Code is backend-neutral (Keras layers and ``keras.ops`` only).
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
from keras import layers

__all__ = ["LAST_CONV", "BUILDERS", "BACKBONES", "WIDENABLE", "build_model", "penultimate_layer"]

LAST_CONV = "last_conv"
PENULTIMATE = "features"


def _rescale(inputs):
    return layers.Rescaling(1 / 255, name="rescale")(inputs)


def build_reference_cnn(input_shape=(32, 32, 3)) -> keras.Model:
    """The student reports' 3-conv CNN: Conv 32/64/128 3x3 valid, 2x2 max-pools after the first
    two, Dense 128, sigmoid (355,649 parameters at 32x32)."""
    inputs = keras.Input(input_shape, name="image")
    x = _rescale(inputs)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(128, 3, activation="relu", name=LAST_CONV)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu", name=PENULTIMATE)(x)
    outputs = layers.Dense(1, activation="sigmoid", name="p_fake")(x)
    return keras.Model(inputs, outputs, name="reference_cnn")


def build_bn5_cnn(input_shape=(32, 32, 3)) -> keras.Model:
    """The face/general study's 5-block CNN (Conv 3x3 + BatchNorm + ReLU per block, filters
    32-64-128-256-256) adapted to 32x32: max-pools after blocks 1-4 (32 -> 2 px), global
    average pooling, dropout 0.5, Dense 128."""
    inputs = keras.Input(input_shape, name="image")
    x = _rescale(inputs)
    for i, filters in enumerate((32, 64, 128, 256, 256)):
        name = LAST_CONV if i == 4 else None
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        if i < 4:
            x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.5)(x)
    x = layers.Dense(128, activation="relu", name=PENULTIMATE)(x)
    outputs = layers.Dense(1, activation="sigmoid", name="p_fake")(x)
    return keras.Model(inputs, outputs, name="bn5_cnn")


def _lenet(input_shape, convs_per_stage: int, name: str) -> keras.Model:
    inputs = keras.Input(input_shape, name="image")
    x = _rescale(inputs)
    for stage, filters in enumerate((6, 16)):
        for k in range(convs_per_stage):
            last = stage == 1 and k == convs_per_stage - 1
            padding = "same" if k < convs_per_stage - 1 else "valid"
            x = layers.Conv2D(filters, 5, padding=padding, activation="relu",
                              name=LAST_CONV if last else None)(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(120, activation="relu")(x)
    x = layers.Dense(84, activation="relu", name=PENULTIMATE)(x)
    outputs = layers.Dense(1, activation="sigmoid", name="p_fake")(x)
    return keras.Model(inputs, outputs, name=name)


def build_lenet(input_shape=(32, 32, 3)) -> keras.Model:
    """LeNet-5: Conv 6 5x5, pool, Conv 16 5x5, pool, Dense 120, 84 (ReLU), sigmoid."""
    return _lenet(input_shape, 1, "lenet")


def build_lenet2(input_shape=(32, 32, 3)) -> keras.Model:
    """"LeNet2": LeNet with each convolution doubled (two stacked 5x5 convolutions per stage,
    the first with same padding)."""
    return _lenet(input_shape, 2, "lenet2")


def _conv_bn(x, filters, *, stride=1, name=None):
    x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def _residual(x, filters, *, stride=1, name=None):
    shortcut = x
    y = _conv_bn(x, filters, stride=stride)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name)(y)
    y = layers.BatchNormalization(gamma_initializer="zeros")(y)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False)(shortcut)
        shortcut = layers.BatchNormalization()(shortcut)
    return layers.ReLU()(layers.Add()([shortcut, y]))


def build_ours(input_shape=(32, 32, 3)) -> keras.Model:
    """Our model, designed for accuracy per CPU-second: one full-resolution 3x3 convolution
    reads the finest detail (where generator traces live), a stride-2 convolution halves the
    grid, then residual blocks at 16x16 (64 ch) and 8x8 (128 ch), global average pooling."""
    inputs = keras.Input(input_shape, name="image")
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(inputs)
    x = _conv_bn(x, 32)
    x = _conv_bn(x, 64, stride=2)
    x = _residual(x, 64)
    x = _residual(x, 128, stride=2)
    x = _residual(x, 128, name=LAST_CONV)
    x = layers.GlobalAveragePooling2D(name=PENULTIMATE)(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(1, activation="sigmoid", name="p_fake", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="ours")


def build_flagship(input_shape=(32, 32, 3), width: int = 48) -> keras.Model:
    """Our flagship, designed for accuracy: a wide ResNet whose first stage keeps the full 32x32
    grid (the generator's traces are in the finest detail), then stages at 16x16 and 8x8 with
    twice and four times the width, two residual blocks each, global average pooling."""
    inputs = keras.Input(input_shape, name="image")
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(inputs)
    x = _conv_bn(x, width)
    for stage, multiple in enumerate((1, 2, 4)):
        for block in range(2):
            last = stage == 2 and block == 1
            x = _residual(x, width * multiple, stride=2 if stage and not block else 1,
                          name=LAST_CONV if last else None)
    x = layers.GlobalAveragePooling2D(name=PENULTIMATE)(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(1, activation="sigmoid", name="p_fake", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="flagship")


def build_scanner(input_shape=(32, 32, 3), width: int = 16) -> keras.Model:
    """Our scanner, designed for images per CPU-second: five plain 3x3 convolutions with
    BatchNorm (one at full resolution, two each at 16x16 and 8x8), 7.5 M multiply-adds per
    image at width 16 (``reference_cnn``: 5.3 M)."""
    inputs = keras.Input(input_shape, name="image")
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(inputs)
    x = _conv_bn(x, width)
    x = _conv_bn(x, 2 * width, stride=2)
    x = _conv_bn(x, 2 * width)
    x = _conv_bn(x, 4 * width, stride=2)
    x = _conv_bn(x, 4 * width, name=LAST_CONV)
    x = layers.GlobalAveragePooling2D(name=PENULTIMATE)(x)
    outputs = layers.Dense(1, activation="sigmoid", name="p_fake", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="scanner")


BACKBONES = ("resnet50", "vgg16", "efficientnetb0", "densenet121")


def build_backbone(name: str, input_shape=(32, 32, 3), weights: str | None = None) -> keras.Model:
    """A keras.applications backbone with a sigmoid head, from scratch (``weights=None``) or
    from a local weights file (ImageNet weights cannot be downloaded here)."""
    apps = {
        "resnet50": (keras.applications.ResNet50, "caffe"),
        "vgg16": (keras.applications.VGG16, "caffe"),
        "efficientnetb0": (keras.applications.EfficientNetB0, "raw"),
        "densenet121": (keras.applications.DenseNet121, "torch"),
    }
    if name not in apps:
        raise ValueError(f"unknown backbone {name!r}; choose from {BACKBONES}")
    app, mode = apps[name]
    inputs = keras.Input(input_shape, name="image")
    if mode == "caffe":  # RGB -> BGR and ImageNet means subtracted, as one fixed 1x1 conv
        caffe = layers.Conv2D(3, 1, trainable=False, name="caffe_preprocess")
        x = caffe(inputs)
        caffe.set_weights([np.eye(3)[::-1].reshape(1, 1, 3, 3),
                           -np.array([103.939, 116.779, 123.68])])
    elif mode == "torch":  # scaled to 0-1, ImageNet mean and std
        x = layers.Normalization(mean=[123.675, 116.28, 103.53],
                                 variance=[58.395**2, 57.12**2, 57.375**2])(inputs)
    else:  # EfficientNet rescales inside
        x = inputs
    base = app(include_top=False, weights=None, input_shape=input_shape)
    if weights:
        base.load_weights(weights)
    x = base(x)
    x = layers.GlobalAveragePooling2D(name=PENULTIMATE)(x)
    outputs = layers.Dense(1, activation="sigmoid", name="p_fake")(x)
    return keras.Model(inputs, outputs, name=name)


BUILDERS: dict[str, Callable[..., keras.Model]] = {
    "reference_cnn": build_reference_cnn,
    "bn5_cnn": build_bn5_cnn,
    "lenet": build_lenet,
    "lenet2": build_lenet2,
    "ours": build_ours,
    "flagship": build_flagship,
    "scanner": build_scanner,
}
WIDENABLE = ("flagship", "scanner")  # builders that take a ``width``


def build_model(name: str, input_shape=(32, 32, 3), weights: str | None = None,
                width: int | None = None) -> keras.Model:
    """Build any model by name: one of ``BUILDERS`` or ``BACKBONES``; ``width`` sets the base
    width of the ``WIDENABLE`` ones."""
    if width is not None and name not in WIDENABLE:
        raise ValueError(f"--width applies to {WIDENABLE}, not {name!r}")
    if name in BUILDERS:
        if weights:
            raise ValueError(f"--weights applies to backbones {BACKBONES}, not {name!r}")
        return BUILDERS[name](input_shape, width) if width else BUILDERS[name](input_shape)
    return build_backbone(name, input_shape, weights)


def penultimate_layer(model: keras.Model) -> keras.layers.Layer:
    """The layer whose output is the model's image embedding."""
    return model.get_layer(PENULTIMATE)
