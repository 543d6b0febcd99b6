"""Inside a CNN: the network as its blocks, and what every block computes on images.

A block is what a student would draw as one box: a convolution with its BatchNorm and
activation, a pooling, a residual block (its main path, its skip connection and the sum), the
global pooling, a dense layer, the output. ``network_of`` groups any functional Keras model's
layers into blocks (residual merges are found from the graph, not from names); ``Inside``
computes every block's output for a batch of images with one multi-output model built once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.models.calibration import apply_calibration

__all__ = ["PARTS", "Activations", "Block", "Inside", "Network", "layer_label", "network_of",
           "strongest_channels"]

# the parts of the Inside the CNN view (its tabs), in order
PARTS = ("Network", "Activation maps", "Filters", "Convolution step by step",
         "Top images of a channel", "Real vs fake channels")

MAX_CHANNELS = 64  # activation grids show at most this many channels
TITLES = {"prep": "Preprocessing", "conv": "Convolution", "res": "Residual block",
          "pool": "Pooling", "gap": "Global pooling", "flatten": "Flatten", "dense": "Dense",
          "output": "Output: P(FAKE)"}
_PREP = ("Rescaling", "Normalization", "Resizing", "CenterCrop")
_POOL = ("MaxPooling2D", "AveragePooling2D")
_GAP = ("GlobalAveragePooling2D", "GlobalMaxPooling2D")
_CONV = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D")


@dataclass(frozen=True)
class Block:
    """One box of the network diagram.

    Attributes
    ----------
    id : str
        Short name used in links and file names: ``prep``, ``conv1``, ``res2``, ``pool1``,
        ``gap``, ``flatten``, ``dense1``, ``output``.
    kind : str
        ``prep`` (preprocessing layers inside the model), ``conv``, ``res``, ``pool``,
        ``gap``, ``flatten``, ``dense``, ``output`` or ``other``.
    title : str
        "Residual block 2", "Convolution 1"...
    summary : str
        Its layers in words: "Conv 3x3 (48) → BatchNorm → ReLU".
    layers : tuple of str
        The Keras layer names, input side first.
    output_layer : str
        The layer whose output is the block's output.
    output_shape : tuple of int
        Without the batch axis: (height, width, channels) or (features,).
    params : int
    macs : int or None
        Multiply-adds for one image (None where unknown, e.g. a nested model).
    skip : str or None
        A residual block's skip connection: "identity" or its layers in words.
    """

    id: str
    kind: str
    title: str
    summary: str
    layers: tuple[str, ...]
    output_layer: str
    output_shape: tuple[int, ...]
    params: int
    macs: int | None
    skip: str | None = None

    @property
    def spatial(self) -> bool:
        """Whether the output is a stack of maps (height, width, channels)."""
        return len(self.output_shape) == 3

    @property
    def channels(self) -> int:
        return int(self.output_shape[-1])


@dataclass(frozen=True)
class Network:
    """A model as blocks, input side first."""

    name: str
    input_shape: tuple[int, ...]
    blocks: tuple[Block, ...]

    @property
    def params(self) -> int:
        return sum(b.params for b in self.blocks)

    @property
    def macs(self) -> int:
        return sum(b.macs or 0 for b in self.blocks)

    def block(self, block_id: str) -> Block:
        for block in self.blocks:
            if block.id == block_id:
                return block
        raise ValueError(f"no block {block_id!r}; choose from {[b.id for b in self.blocks]}")


def _kind_of(layer) -> str:
    """``anchor`` kinds start a block; ``follow`` layers join the block before them."""
    name = type(layer).__name__
    if name in _PREP or layer.name == "caffe_preprocess":
        return "prep"
    if name in _CONV:
        return "conv"
    if name in _POOL:
        return "pool"
    if name in _GAP:
        return "gap"
    if name == "Flatten":
        return "flatten"
    if name == "Dense":
        return "output" if layer.units == 1 else "dense"
    if hasattr(layer, "layers"):  # a nested model (a keras.applications backbone)
        return "other"
    return "follow"


def layer_label(layer) -> str:
    """A layer in a few words: "Conv 3x3 (48), stride 2", "BatchNorm", "Dense 128, ReLU"."""
    name = type(layer).__name__
    activation = getattr(getattr(layer, "activation", None), "__name__", "linear")
    act = "" if activation == "linear" else f", {_ACTIVATIONS.get(activation, activation)}"
    if name in _CONV:
        kh, kw = layer.kernel_size
        stride = f", stride {layer.strides[0]}" if max(layer.strides) > 1 else ""
        what = {"Conv2D": "Conv", "DepthwiseConv2D": "Depthwise conv",
                "SeparableConv2D": "Separable conv"}[name]
        width = f" ({layer.filters})" if hasattr(layer, "filters") and layer.filters else ""
        return f"{what} {kh}x{kw}{width}{stride}{act}"
    if name in _POOL:
        return f"{'Max' if name.startswith('Max') else 'Average'}-pool {layer.pool_size[0]}x" \
               f"{layer.pool_size[1]}"
    if name in _GAP:
        return f"Global {'max' if 'Max' in name else 'average'} pool"
    if name == "Dense":
        return f"Dense {layer.units}{act}"
    if name == "Rescaling":
        scale, offset = float(np.ravel(layer.scale)[0]), float(np.ravel(layer.offset)[0])
        return f"Rescale 0–255 to {offset:g}…{255 * scale + offset:g}"
    return {"BatchNormalization": "BatchNorm", "ReLU": "ReLU", "Add": "+ skip",
            "Flatten": "Flatten", "Dropout": f"Dropout {getattr(layer, 'rate', 0):g}"}.get(
        name, _ACTIVATIONS.get(activation, name) if name == "Activation" else name)


_ACTIVATIONS = {"relu": "ReLU", "sigmoid": "sigmoid", "softmax": "softmax", "tanh": "tanh"}


def _parents(layer) -> list[str]:
    import keras

    inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
    return [t._keras_history[0].name for t in keras.tree.flatten(inputs)]


def _macs(layer) -> int | None:
    """Multiply-adds of one layer for one image (0 for layers without multiplications)."""
    name = type(layer).__name__
    if name == "Dense":
        return int(np.prod(layer.input.shape[1:])) * layer.units
    if name in _CONV:
        out = layer.output.shape[1:]
        kh, kw = layer.kernel_size
        cin = layer.input.shape[-1]
        if name == "DepthwiseConv2D":
            return int(np.prod(out)) * kh * kw
        if name == "SeparableConv2D":
            depth = out[0] * out[1] * cin * layer.depth_multiplier
            return int(depth * kh * kw + depth * layer.filters)
        return int(np.prod(out)) * kh * kw * cin // getattr(layer, "groups", 1)
    if hasattr(layer, "layers"):
        return None
    return 0


def _merges(model, order: dict[str, int]) -> dict[str, tuple[set[str], str, list[list[str]]]]:
    """Each residual merge (an ``Add`` layer): the layers of its block (both paths and the
    merge), the fork layer whose output feeds both paths, and each path's layers."""
    parents = {layer.name: _parents(layer) for layer in model.layers
               if type(layer).__name__ != "InputLayer"}

    def ancestors(name: str) -> set[str]:  # the layer and every layer it depends on
        seen, todo = set(), [name]
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo.extend(parents.get(current, ()))
        return seen

    found = {}
    for layer in model.layers:
        if type(layer).__name__ != "Add":
            continue
        branches = [ancestors(p) for p in parents[layer.name]]
        fork = max(set.intersection(*branches), key=order.__getitem__)
        below = ancestors(fork)
        paths = [sorted(b - below, key=order.__getitem__) for b in branches]
        found[layer.name] = ({layer.name, *(n for p in paths for n in p)}, fork, paths)
    return found


def network_of(model) -> Network:
    """The blocks of a functional Keras model (see ``Block``), input side first."""
    order = {layer.name: i for i, layer in enumerate(model.layers)}
    merges = _merges(model, order)
    member_of = {n: merge for merge, (members, _, _) in merges.items() for n in members}
    groups: list[tuple[str, list]] = []  # (kind, layers)
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        kind = _kind_of(layer)
        merge = member_of.get(layer.name)
        if merge is not None:
            if not groups or groups[-1][0] != f"res:{merge}":
                groups.append((f"res:{merge}", []))
            groups[-1][1].append(layer)
        elif kind == "follow" and groups and not groups[-1][0].startswith("output"):
            groups[-1][1].append(layer)
        elif kind == "prep" and groups and groups[-1][0] == "prep":
            groups[-1][1].append(layer)
        else:
            groups.append((kind if kind != "follow" else "other", [layer]))
    counts: dict[str, int] = {}
    blocks = []
    for kind, layers in groups:
        merge = kind[4:] if kind.startswith("res:") else None
        kind = "res" if merge else kind
        counts[kind] = counts.get(kind, 0) + 1
        numbered = kind in ("conv", "res", "pool", "dense")
        block_id = {"gap": "gap", "output": "output", "prep": "prep", "flatten": "flatten"}.get(
            kind, f"{kind}{counts[kind]}")
        title = TITLES.get(kind, layers[0].name)
        macs = [m for m in map(_macs, layers) if m is not None]  # those known
        skip = None
        if merge:
            _, fork, paths = merges[merge]
            main, short = sorted(paths, key=len, reverse=True)[:2] if len(paths) > 1 else (
                paths[0], [])
            labels = [layer_label(model.get_layer(n)) for n in main]
            after = [layer_label(layer) for layer in layers if order[layer.name] > order[merge]]
            summary = " → ".join([*labels, "+ skip", *after])
            skip = " → ".join(layer_label(model.get_layer(n)) for n in short) or "identity"
        else:
            summary = " → ".join(layer_label(layer) for layer in layers)
        last = layers[-1]
        blocks.append(Block(
            id=block_id, kind=kind, title=f"{title} {counts[kind]}" if numbered else title,
            summary=summary, layers=tuple(layer.name for layer in layers),
            output_layer=last.name, output_shape=tuple(int(d) for d in last.output.shape[1:]),
            params=int(sum(layer.count_params() for layer in layers)),
            macs=int(sum(macs)) if len(macs) == len(layers) else None, skip=skip))
    return Network(model.name, tuple(int(d) for d in model.input.shape[1:]), tuple(blocks))


def strongest_channels(maps: np.ndarray, limit: int = MAX_CHANNELS) -> np.ndarray:
    """Channel indices of one image's block output, shape (h, w, c) or (c,), by mean
    activation, strongest first; at most ``limit``."""
    means = maps.reshape(-1, maps.shape[-1]).mean(axis=0)
    return np.argsort(-means, kind="stable")[:limit]


@dataclass(frozen=True)
class Activations:
    """What every block computes on a batch of images.

    Attributes
    ----------
    maps : dict of block id -> ndarray
        Each block's output, shape (n, h, w, c) or (n, features), float32.
    logits : ndarray of shape (n,)
        The output layer's value before the sigmoid.
    p_raw : ndarray of shape (n,)
        The model's own P(FAKE).
    p_fake : ndarray of shape (n,)
        P(FAKE) after the calibration in the model's report (``p_raw`` without one).
    """

    maps: dict[str, np.ndarray]
    logits: np.ndarray
    p_raw: np.ndarray
    p_fake: np.ndarray


def _compiled(model, input_shape: tuple[int, ...], reduce: bool = False):
    """``model``'s forward pass (inference mode), traced once for every batch size under
    TensorFlow; with ``reduce``, each spatial output averaged over height and width."""
    import keras

    def call(x):
        outputs = model(x, training=False)
        if reduce:
            outputs = [keras.ops.mean(o, axis=(1, 2)) if len(o.shape) == 4 else o
                       for o in outputs]
        return outputs

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        spec = tf.TensorSpec([None, *input_shape], tf.float32)
        call = tf.function(call, input_signature=[spec], autograph=False)
    return call


class Inside:
    """One Keras model opened up: its blocks, and every block's output for any images (one
    multi-output model, compiled once; reuse the object for every image)."""

    def __init__(self, model, calibration: dict | None = None):
        import keras

        self.model = model
        self.calibration = calibration
        self.network = network_of(model)
        self.input_shape = self.network.input_shape
        final = model.get_layer(self.network.blocks[-1].output_layer)
        self._final = final if type(final).__name__ == "Dense" and final.units == 1 else None
        outputs = [model.get_layer(b.output_layer).output for b in self.network.blocks]
        if self._final is not None:
            outputs.append(self._final.input)
        self._multi = keras.Model(model.input, outputs)
        self._call = _compiled(self._multi, self.input_shape)
        self._means = _compiled(self._multi, self.input_shape, reduce=True)
        self._conv_io: dict[str, object] = {}

    def activations(self, images: np.ndarray, *, batch_size: int = 256) -> Activations:
        """Every block's output for ``images`` (uint8 or float, 0-255, the model's input
        size), the logit and P(FAKE)."""
        parts = [self._outputs(self._call, images[s:s + batch_size])
                 for s in range(0, len(images), batch_size)]
        outputs = [np.concatenate(column) for column in zip(*parts)]
        blocks = self.network.blocks
        maps = dict(zip((b.id for b in blocks), outputs[:len(blocks)]))
        p_raw = outputs[len(blocks) - 1].reshape(len(images), -1)[:, 0]
        if self._final is not None:
            kernel, bias = (np.asarray(w) for w in self._final.get_weights()[:2])
            logits = outputs[-1].reshape(len(images), -1) @ kernel[:, 0] + bias[0]
        else:
            clipped = np.clip(p_raw.astype(np.float64), 1e-12, 1 - 1e-12)
            logits = np.log(clipped / (1 - clipped))
        return Activations(maps, logits.astype(np.float32), p_raw.astype(np.float32),
                           apply_calibration(self.calibration, p_raw.astype(np.float32)))

    def channel_means(self, images: np.ndarray, *, batch_size: int = 256,
                      progress=None) -> dict[str, np.ndarray]:
        """Each block's output averaged over height and width, per image: block id ->
        (n, channels) float32 (dense outputs as they are)."""
        blocks = self.network.blocks
        parts = []
        for start in range(0, len(images), batch_size):
            if progress is not None:
                progress(start / len(images), f"{start:,} of {len(images):,} images")
            parts.append(self._outputs(self._means, images[start:start + batch_size]))
        columns = [np.concatenate(column) for column in zip(*parts)]
        return {b.id: columns[i].reshape(len(images), -1) for i, b in enumerate(blocks)}

    def conv_io(self, image: np.ndarray, layer: str) -> tuple[np.ndarray, np.ndarray]:
        """The input that convolution ``layer`` receives for one image (after the model's
        preprocessing and every earlier layer) and its output: (h, w, c_in), (h', w', c_out)."""
        import keras

        if layer not in self._conv_io:
            conv = self.model.get_layer(layer)
            sub = keras.Model(self.model.input, [conv.input, conv.output])
            self._conv_io[layer] = _compiled(sub, self.input_shape)
        x, y = self._outputs(self._conv_io[layer], image[None])
        return x[0], y[0]

    @staticmethod
    def _outputs(call, batch: np.ndarray) -> list[np.ndarray]:
        outputs = call(np.asarray(batch, dtype=np.float32))
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return [np.asarray(o, dtype=np.float32) for o in outputs]
