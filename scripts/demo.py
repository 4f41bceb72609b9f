"""Where parallel segments pay, measured on this machine: the demo's second half.

    python scripts/demo.py CLIP [--keep DIR]

Compares sequential and parallel runs of two jobs on CLIP: a built-in chain (its work is
x264 and OpenCV, which already spread over every core) and a NumPy filter registered here,
as any user filter is (its Python holds one core). Each prints its measured speedup and the
ceiling these cores allow it (cores x sequential wall / sequential CPU), then a table of both.
"""

from __future__ import annotations

import argparse

import numpy as np

import renderrush as rr
from renderrush.core.resources import available_cores

BUILTIN = "grayscale,blur:3"
USER = "grade"


@rr.register_filter("grade", warmth=rr.Param(0.3, 0.0, 1.0, "orange highlights, teal shadows"))
def grade(frame: np.ndarray, warmth: float) -> np.ndarray:
    """A teal-and-orange colour grade with a vignette, in float NumPy: a few array passes
    per frame, the kind of effect users write, which holds one core while it runs."""
    height, width = frame.shape[:2]
    image = frame.astype(np.float32) / 255.0
    luma = image @ np.array([0.114, 0.587, 0.299], dtype=np.float32)  # BGR weights
    tint = np.where(luma[..., None] > 0.5, [0.9, 1.0, 1.15], [1.1, 1.02, 0.9]).astype(np.float32)
    image *= 1.0 + warmth * (tint - 1.0)
    y, x = np.ogrid[-1 : 1 : height * 1j, -1 : 1 : width * 1j]
    image *= (1.0 - 0.35 * np.clip((x * x + y * y) / 2, 0, 1)).astype(np.float32)[..., None]
    return (np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip")
    parser.add_argument("--keep", default=None, metavar="DIR", help="keep the outputs in DIR")
    args = parser.parse_args()
    cores = available_cores()
    rows = []
    # threads for the built-in chain (the CLI's choice: its work releases the GIL), processes
    # for the user filter (the CLI's choice for any filter registered outside RenderRush)
    for chain, scheduler, what in ((BUILTIN, "threads", "built-in chain"), (USER, "processes", "NumPy user filter")):
        print(f"\n== {what} '{chain}': sequential, then {cores} {scheduler} workers", flush=True)
        result = rr.compare(args.clip, chain, workers=cores, scheduler=scheduler, keep_outputs=args.keep)
        print(result.summary(), flush=True)
        rows.append((what, chain, result))
    print(f"\n{'job':<18} {'filters':<17} {'speedup':>8} {'ceiling':>8}  (on {cores} cores)")
    for what, chain, result in rows:
        ceiling = "-" if result.ceiling is None else f"{result.ceiling:.2f}x"
        print(f"{what:<18} {chain:<17} {result.speedup:>7.2f}x {ceiling:>8}")
    print(
        "More cores raise each ceiling with them (cores x wall / CPU): the built-in chain gains once there are "
        "more cores than one x264 keeps busy, a user filter up to one segment per core; a cluster "
        "(--scheduler tcp://HOST:8786) adds other machines' cores, each worker sent its piece of the input once."
    )


if __name__ == "__main__":  # the processes scheduler starts workers that import this file
    main()
