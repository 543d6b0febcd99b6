"""Heat maps of what a CNN's verdict depends on (tf-keras-vis): Grad-CAM, Grad-CAM++,
Score-CAM (faster variant) and SmoothGrad saliency, plus overlays for display.

A heat map is a float32 array of the input's height and width with values in [0, 1].
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["COLORMAPS", "METHODS", "Explainer", "conv_layers", "overlay"]

METHODS = ("Grad-CAM", "Grad-CAM++", "Score-CAM (faster)", "SmoothGrad")
COLORMAPS = {"jet": cv2.COLORMAP_JET, "inferno": cv2.COLORMAP_INFERNO,
             "viridis": cv2.COLORMAP_VIRIDIS, "turbo": cv2.COLORMAP_TURBO}
SCORECAM_MAX_N = 16  # Faster Score-CAM: only the channels with the largest activations
SMOOTH_SAMPLES = 20


def conv_layers(model) -> list[str]:
    """Names of the model's 2-D convolution layers, input side first (the last one is the
    default Grad-CAM layer)."""
    import keras

    return [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)
            and layer.trainable and layer.name != "caffe_preprocess"]


class Explainer:
    """Heat maps for one sigmoid P(FAKE) Keras model (built once; reused for every image)."""

    def __init__(self, model):
        from tf_keras_vis.gradcam import Gradcam
        from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
        from tf_keras_vis.saliency import Saliency
        from tf_keras_vis.scorecam import Scorecam
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear

        from core.models.deep import LAST_CONV

        self.model = model
        self.layers = conv_layers(model)
        self.default_layer = LAST_CONV if LAST_CONV in self.layers else self.layers[-1]
        # the sigmoid is replaced by the identity: scores are logits, gradients do not vanish
        self._tools = {
            "Grad-CAM": Gradcam(model, model_modifier=ReplaceToLinear(), clone=True),
            "Grad-CAM++": GradcamPlusPlus(model, model_modifier=ReplaceToLinear(), clone=True),
            "Score-CAM (faster)": Scorecam(model, clone=True),
            "SmoothGrad": Saliency(model, model_modifier=ReplaceToLinear(), clone=True),
        }

    def heatmap(self, image: np.ndarray, method: str = "Grad-CAM", *, layer: str | None = None,
                target: str = "FAKE", seed: int = 0) -> np.ndarray:
        """Heat map of the evidence for ``target`` ("FAKE" or "REAL") in one uint8 model input.

        ``layer`` (a name from ``self.layers``) applies to the CAM methods; SmoothGrad works
        on the input pixels.
        """
        if method not in self._tools:
            raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
        if target not in ("FAKE", "REAL"):
            raise ValueError("target must be 'FAKE' or 'REAL'")
        layer = layer or self.default_layer
        if layer not in self.layers:
            raise ValueError(f"no convolution layer {layer!r}; choose from {self.layers}")
        sign = 1.0 if target == "FAKE" else -1.0
        x = image[None].astype(np.float32)
        tool = self._tools[method]
        if method == "Score-CAM (faster)":  # scores with the sigmoid: P(FAKE) or P(REAL)
            score = (lambda out: out[:, 0]) if target == "FAKE" else (lambda out: 1 - out[:, 0])
            cam = tool(score, x, penultimate_layer=layer, max_N=SCORECAM_MAX_N)
        elif method == "SmoothGrad":
            import tensorflow as tf

            tf.random.set_seed(seed)
            cam = tool(lambda out: sign * out[:, 0], x, smooth_samples=SMOOTH_SAMPLES,
                       smooth_noise=0.2)
        else:
            cam = tool(lambda out: sign * out[:, 0], x, penultimate_layer=layer)
        heat = np.nan_to_num(np.asarray(cam, dtype=np.float32)[0])
        return np.clip(heat, 0.0, 1.0)


def overlay(image: np.ndarray, heat: np.ndarray, *, opacity: float = 0.5,
            colormap: str = "jet") -> np.ndarray:
    """Blend a colour-mapped heat map over an RGB image (the heat map is resized to the image
    with nearest-neighbour, so each input pixel stays one block)."""
    height, width = image.shape[:2]
    heat = cv2.resize(heat, (width, height), interpolation=cv2.INTER_NEAREST)
    colours = cv2.applyColorMap((heat * 255).round().astype(np.uint8), COLORMAPS[colormap])
    colours = cv2.cvtColor(colours, cv2.COLOR_BGR2RGB).astype(np.float32)
    blended = (1 - opacity) * image.astype(np.float32) + opacity * colours
    return blended.round().clip(0, 255).astype(np.uint8)
