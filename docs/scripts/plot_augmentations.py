"""Draws before/after plots of each sequence augmentation for the guide.

Usage: python docs/scripts/plot_augmentations.py
Writes docs/guides/img/augmentation-<layer>.png.
"""

from __future__ import annotations

import pathlib

import keras
import matplotlib
import numpy as np

import keras_epochkit as ek

matplotlib.use("Agg")
import matplotlib.pyplot as plt

OUT = pathlib.Path(__file__).resolve().parents[1] / "guides" / "img"
LENGTH = 200

LAYERS = {
    "RandomJitter": ek.layers.RandomJitter(sigma=0.1, seed=1),
    "RandomScaling": ek.layers.RandomScaling(sigma=0.2, seed=2),
    "RandomMagnitudeWarp": ek.layers.RandomMagnitudeWarp(sigma=0.3, knots=4, seed=3),
    "RandomTimeWarp": ek.layers.RandomTimeWarp(sigma=0.4, knots=4, seed=4),
    "RandomWindowSlice": ek.layers.RandomWindowSlice(ratio=0.7, seed=5),
    "RandomWindowWarp": ek.layers.RandomWindowWarp(0.2, (0.5, 2.0), seed=6),
    "RandomPermutation": ek.layers.RandomPermutation(max_segments=5, seed=7),
    "RandomTimeMask": ek.layers.RandomTimeMask(count=2, max_width=20, seed=8),
}


def signal() -> np.ndarray:
    t = np.linspace(0, 1, LENGTH, dtype="float32")
    first = np.sin(2 * np.pi * 3 * t) + 0.5 * np.sin(2 * np.pi * 7 * t)
    second = np.cos(2 * np.pi * 2 * t) * (0.5 + t)
    return np.stack([first, second], -1)[None].astype("float32")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    x = signal()
    for name, layer in LAYERS.items():
        y = keras.ops.convert_to_numpy(layer(x, training=True))
        fig, axes = plt.subplots(2, 1, figsize=(7, 3.2), sharex=True)
        for channel, ax in enumerate(axes):
            ax.plot(x[0, :, channel], color="0.6", label="before")
            ax.plot(y[0, :, channel], color="C0", label="after")
            ax.set_ylabel(f"channel {channel}")
        axes[0].set_title(name)
        axes[0].legend(loc="upper right", fontsize="small")
        axes[1].set_xlabel("time step")
        fig.tight_layout()
        fig.savefig(OUT / f"augmentation-{name}.png", dpi=80)
        plt.close(fig)
        print("wrote", OUT / f"augmentation-{name}.png")


if __name__ == "__main__":
    main()
