"""One convolution, number by number, and the learned filters.

``ConvTrace`` holds what a convolution layer of a model receives for one image (after the
model's own preprocessing and every layer before it) and what it outputs; ``ConvTrace.step``
recomputes one output value from its window, the weights, their products, the sum, the bias and
the activation, then carries it through the BatchNorm and activation that follow the
convolution in its block, so a student can check every number against the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.detect.explain import conv_layers
from core.detect.inside import Inside, layer_label

__all__ = ["ConvStep", "ConvTrace", "Filters", "filters_of", "trace_conv"]

_ELEMENTWISE = ("BatchNormalization", "ReLU", "Activation", "LeakyReLU", "Dropout")


@dataclass(frozen=True)
class ConvStep:
    """The arithmetic of one output value of a convolution.

    Attributes
    ----------
    row, col, channel : int
        The output position and the filter.
    top, left : int
        Where the window starts in the layer's input (negative inside the zero padding).
    window, weights, products : ndarray of shape (kh, kw, c_in)
        The input values under the filter (0 in the padding), the filter's weights, and
        their element-wise products.
    total : float
        The sum of the products.
    bias : float or None
        None when the layer has no bias.
    value : float
        ``total + bias`` through the layer's own activation: the layer's output there.
    activation : str
        The layer's own activation ("linear" for none).
    after : tuple of (label, formula, value)
        The layers after the convolution in its block (BatchNorm, ReLU), each with the
        arithmetic in words and the value after it; the last value is the block's output.
    """

    row: int
    col: int
    channel: int
    top: int
    left: int
    window: np.ndarray
    weights: np.ndarray
    products: np.ndarray
    total: float
    bias: float | None
    value: float
    activation: str
    after: tuple[tuple[str, str, float], ...]


@dataclass(frozen=True)
class ConvTrace:
    """A convolution layer's input and output for one image, and what it needs to recompute
    any output value.

    Attributes
    ----------
    layer : str
    inputs : ndarray of shape (h, w, c_in)
        What the layer receives (after the model's preprocessing and earlier layers).
    outputs : ndarray of shape (h', w', c_out)
        The layer's own output, from the model.
    kernel : ndarray of shape (kh, kw, c_in, c_out)
    bias : ndarray of shape (c_out,) or None
    strides, dilation : (int, int)
    pad_top, pad_left : int
        Zero padding before the first row and column ("same" padding; 0 for "valid").
    activation : str
    followers : tuple
        The Keras layers after the convolution in its block that act on each position alone
        (BatchNorm, activations), applied in order.
    """

    layer: str
    inputs: np.ndarray
    outputs: np.ndarray
    kernel: np.ndarray
    bias: np.ndarray | None
    strides: tuple[int, int]
    dilation: tuple[int, int]
    pad_top: int
    pad_left: int
    activation: str
    followers: tuple

    @property
    def positions(self) -> int:
        return int(self.outputs.shape[0] * self.outputs.shape[1])

    def position(self, index: int) -> tuple[int, int]:
        """Row and column of the ``index``-th output position, row by row."""
        return divmod(int(index), int(self.outputs.shape[1]))

    def window_at(self, row: int, col: int) -> tuple[int, int, np.ndarray]:
        """``(top, left, window)``: the input under the filter at output ``(row, col)``, all
        input channels, zeros where it hangs over the padding."""
        kh, kw = self.kernel.shape[:2]
        (sh, sw), (dh, dw) = self.strides, self.dilation
        top, left = row * sh - self.pad_top, col * sw - self.pad_left
        rows, cols = top + dh * np.arange(kh), left + dw * np.arange(kw)
        height, width = self.inputs.shape[:2]
        in_rows, in_cols = (rows >= 0) & (rows < height), (cols >= 0) & (cols < width)
        window = np.zeros((kh, kw, self.inputs.shape[2]), np.float32)
        window[np.ix_(in_rows, in_cols)] = self.inputs[np.ix_(rows[in_rows], cols[in_cols])]
        return int(top), int(left), window

    def step(self, row: int, col: int, channel: int) -> ConvStep:
        """The arithmetic of output ``(row, col, channel)``."""
        import keras

        top, left, window = self.window_at(row, col)
        weights = self.kernel[..., channel]
        products = window * weights
        every = np.tensordot(window.astype(np.float64), self.kernel, axes=3)  # all channels
        if self.bias is not None:
            every = every + self.bias
        every = np.asarray(keras.activations.get(self.activation)(
            every.astype(np.float32)[None]))[0]
        after, vector = [], every
        for layer in self.followers:
            before = float(vector[channel])
            vector = np.asarray(layer(vector[None, None, None], training=False))[0, 0, 0]
            after.append((layer_label(layer), _formula(layer, channel, before),
                          float(vector[channel])))
        total = float(products.astype(np.float64).sum())
        bias = None if self.bias is None else float(self.bias[channel])
        return ConvStep(row, col, channel, top, left, window, weights, products, total, bias,
                        float(every[channel]), self.activation, tuple(after))


def _formula(layer, channel: int, x: float) -> str:
    """The arithmetic of an element-wise layer on value ``x`` of ``channel``, in words."""
    name = type(layer).__name__
    if name == "BatchNormalization":
        weights = {w.path.rsplit("/", 1)[-1]: np.asarray(w)[channel] for w in layer.weights}
        gamma, beta = weights.get("gamma", 1.0), weights.get("beta", 0.0)
        mean, variance = weights["moving_mean"], weights["moving_variance"]
        return (f"({x:.4f} {_signed(-mean)}) / √({variance:.4f} + {layer.epsilon:g}) × "
                f"{gamma:.4f} {_signed(beta)}")
    if name == "ReLU" or getattr(getattr(layer, "activation", None), "__name__", "") == "relu":
        return f"max(0, {x:.4f})"
    return f"{layer_label(layer)}({x:.4f})"


def _signed(value: float) -> str:
    """``+ 0.1234`` or ``− 0.1234``: a term added in a sum written out."""
    return f"{'+' if value >= 0 else '−'} {abs(value):.4f}"


def _padding(size: int, kernel: int, stride: int, dilation: int, padding: str) -> int:
    """Zero rows (or columns) before the first one, as Keras pads for ``padding``."""
    if padding == "valid":
        return 0
    span = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    return max((out - 1) * stride + span - size, 0) // 2


def trace_conv(inside: Inside, image: np.ndarray, layer: str | None = None) -> ConvTrace:
    """The trace of convolution ``layer`` (default: the first) of ``inside``'s model on one
    image (the model input, 0-255)."""
    model = inside.model
    names = conv_layers(model)
    layer = layer or names[0]
    if layer not in names:
        raise ValueError(f"no convolution {layer!r}; choose from {names}")
    conv = model.get_layer(layer)
    inputs, outputs = inside.conv_io(image, layer)
    weights = [np.asarray(w, np.float32) for w in conv.get_weights()]
    block = next(b for b in inside.network.blocks if layer in b.layers)
    rest = list(block.layers[block.layers.index(layer) + 1:])
    followers = []
    for name in rest:  # the per-position layers right after the convolution
        follower = model.get_layer(name)
        if type(follower).__name__ not in _ELEMENTWISE or block.kind != "conv":
            break
        followers.append(follower)
    kh, kw = conv.kernel_size
    (sh, sw), (dh, dw) = conv.strides, conv.dilation_rate
    return ConvTrace(
        layer, inputs, outputs, weights[0], weights[1] if conv.use_bias else None,
        (int(sh), int(sw)), (int(dh), int(dw)),
        _padding(inputs.shape[0], kh, sh, dh, conv.padding),
        _padding(inputs.shape[1], kw, sw, dw, conv.padding),
        getattr(conv.activation, "__name__", "linear"), tuple(followers))


@dataclass(frozen=True)
class Filters:
    """A convolution's learned weights: ``kernel`` (kh, kw, c_in, c_out), ``bias`` (c_out,)
    or None."""

    layer: str
    kernel: np.ndarray
    bias: np.ndarray | None


def filters_of(model, layer: str | None = None) -> Filters:
    """The weights of convolution ``layer`` (default: the first)."""
    names = conv_layers(model)
    layer = layer or names[0]
    if layer not in names:
        raise ValueError(f"no convolution {layer!r}; choose from {names}")
    conv = model.get_layer(layer)
    weights = [np.asarray(w, np.float32) for w in conv.get_weights()]
    return Filters(layer, weights[0], weights[1] if conv.use_bias else None)
