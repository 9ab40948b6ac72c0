"""Draws the budget schedules, and a re-target, for the guide.

Usage: python docs/scripts/plot_schedules.py
Writes docs/guides/img/schedules.png.
"""

from __future__ import annotations

import pathlib

import keras
import numpy as np

import keras_epochkit as ek

OUT = pathlib.Path(__file__).resolve().parents[1] / "guides" / "img"
TOTAL = 1000


def values(schedule, steps) -> np.ndarray:
    return np.array([float(keras.ops.convert_to_numpy(schedule(s))) for s in steps])


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.arange(0, TOTAL + 1, 5)
    shapes = {
        "LinearDecay": ek.schedules.LinearDecay(0.1, TOTAL, warmup_steps=50),
        "CosineDecay": ek.schedules.CosineDecay(0.1, TOTAL, warmup_steps=50),
        "WarmupStableDecay (1-sqrt)": ek.schedules.WarmupStableDecay(
            0.1, TOTAL, warmup_steps=50
        ),
        "OneCycle": ek.schedules.OneCycle(0.1, TOTAL),
        "Constant": ek.schedules.Constant(0.1, warmup_steps=50),
    }
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for label, schedule in shapes.items():
        left.plot(steps, values(schedule, steps), label=label)
    left.set(title="Budget schedules (1,000 steps, 50 warm-up)", xlabel="step")
    left.set_ylabel("learning rate")
    left.legend(fontsize=8)

    schedule = ek.schedules.CosineDecay(0.1, TOTAL)
    before = values(schedule, steps[steps <= 400])
    schedule.bind(600, 400)  # the budget shrinks at step 400
    after = values(schedule, steps[steps >= 400])
    right.plot(
        steps,
        values(ek.schedules.CosineDecay(0.1, TOTAL), steps),
        "--",
        color="grey",
        label="planned: 1,000 steps",
    )
    right.plot(steps[steps <= 400], before, color="C1")
    right.plot(
        steps[steps >= 400], after, color="C1", label="re-targeted at step 400 to 600"
    )
    right.set(title="A re-target never jumps", xlabel="step")
    right.legend(fontsize=8)
    figure.tight_layout()
    OUT.mkdir(parents=True, exist_ok=True)
    figure.savefig(OUT / "schedules.png", dpi=110)
    print(f"wrote {OUT / 'schedules.png'}")


if __name__ == "__main__":
    main()
