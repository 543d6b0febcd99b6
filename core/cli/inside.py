"""``python -m core inside MODEL IMAGE --out DIR``: what every block of a CNN computes on one
image, as pictures and numbers.

Writes ``DIR/input.png`` (the model's input, enlarged), one ``DIR/NN-BLOCK.png`` per block with
maps (its strongest channels, up to 64, on one colour scale) and ``DIR/summary.json`` (each
block's output shape, parameters, multiply-adds and strongest channels; the logit, the raw and
the calibrated P(FAKE)). DIR must not exist: nothing is overwritten.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from core.cli.common import add_models_dir, command_parser
from core.detect.detector import VIEWS
from core.models.artifacts import list_reports

__all__ = ["main"]

TOP = 8  # strongest channels listed per block in the summary


def main(argv: list[str]) -> int:
    parser = command_parser("inside")
    parser.add_argument("model", metavar="MODEL", help="a CNN in models/ (shipped or saved from "
                        "the Training lab)")
    parser.add_argument("image", metavar="IMAGE", help="an image file (JPEG, PNG, WebP, ...)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="a new folder for the PNGs and summary.json")
    parser.add_argument("--view", choices=list(VIEWS), default="resize",
                        help="whole image resized (default) or its centre square")
    add_models_dir(parser)
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.exists():
        raise ValueError(f"{out} already exists; choose a new folder for --out")
    cnns = [r["name"] for r in list_reports(args.models_dir) if r.get("family") == "cnn"]
    if args.model not in cnns:
        raise ValueError(f"{args.model!r} is not a CNN in {args.models_dir}; choose from "
                         f"{', '.join(cnns) or 'none'}")
    try:
        data = Path(args.image).read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {args.image}: {exc.strerror or exc}") from None
    from core.data.imageio import decode_image
    from core.errors import ImageError

    try:
        image = decode_image(data)
    except ImageError as exc:
        raise ValueError(f"{args.image}: {exc}") from None
    summary = _write(args, image, out)
    print(f"{args.model}: P(FAKE) {summary['p_fake']:.3f} (raw {summary['p_fake_raw']:.3f}, "
          f"logit {summary['logit']:+.3f}); {len(summary['blocks'])} blocks -> {out}",
          file=sys.stderr)
    return 0


def _write(args, image, out: Path) -> dict:
    """Compute the insides and write them into a temporary folder renamed to ``out``."""
    from core.data.imageio import enlarge, png_bytes
    from core.detect.detector import prepare
    from core.detect.inside import Inside, strongest_channels
    from core.detect.inside_images import map_grid
    from core.models.artifacts import load_predictor

    predictor = load_predictor(args.model, args.models_dir)
    inside = Inside(predictor.model, predictor.calibration)
    x = prepare(image, predictor.size, args.view)
    acts = inside.activations(x[None])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        (tmp / "input.png").write_bytes(png_bytes(enlarge(x, max(1, 256 // predictor.size))))
        blocks = []
        for number, block in enumerate(inside.network.blocks, start=1):
            values = acts.maps[block.id][0]
            top = strongest_channels(values)
            entry = {"id": block.id, "title": block.title, "layers": block.summary,
                     "skip": block.skip, "output_shape": list(block.output_shape),
                     "params": block.params, "multiply_adds": block.macs,
                     "top_channels": [{"channel": int(c), "mean": round(float(
                         values[..., c].mean()), 6)} for c in top[:TOP]]}
            if block.spatial:
                entry["file"] = name = f"{number:02d}-{block.id}.png"
                (tmp / name).write_bytes(png_bytes(map_grid(values, top).image))
            blocks.append(entry)
        summary = {"model": args.model, "sha256": predictor.sha256, "image": str(args.image),
                   "view": args.view, "input_size": predictor.size,
                   "params": inside.network.params, "multiply_adds": inside.network.macs,
                   "logit": float(acts.logits[0]), "p_fake_raw": float(acts.p_raw[0]),
                   "p_fake": float(acts.p_fake[0]), "calibrated": predictor.calibration is not None,
                   "blocks": blocks}
        (tmp / "summary.json").write_text(json.dumps(summary, indent=1))
        os.chmod(tmp, 0o755)
        os.rename(tmp, out)  # fails rather than replace a folder made meanwhile
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return summary
