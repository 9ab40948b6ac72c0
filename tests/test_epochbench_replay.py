"""Pins EpochBench's replay harness on a hand-made 10-epoch curve."""

import keras
import pytest

from benchmarks import bench_epochbench

VAL_LOSS = [1.0, 0.8, 0.6, 0.7, 0.65, 0.9, 0.5, 0.4, 0.3, 0.2]
TEST_ACCURACY = [0.5, 0.7, 0.8, 0.78, 0.79, 0.75, 0.85, 0.897, 0.89, 0.9]


def hand_made_curve() -> dict:
    return {
        "id": "hand-made",
        "task": "classification",
        "budget": 10,
        "train_size": 64,
        "batch_size": 32,
        "logs": [
            {"loss": 1.0 - 0.05 * t, "val_loss": v} for t, v in enumerate(VAL_LOSS)
        ],
        "test": [{"loss": 1.0 - a, "accuracy": a} for a in TEST_ACCURACY],
    }


def keras_early_stopping(patience: int) -> keras.callbacks.EarlyStopping:
    return keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=patience, restore_best_weights=True
    )


def test_replay_stops_where_keras_stops_and_reads_back_the_restored_epoch():
    # Best at epoch 2 (0.6); epochs 3 and 4 do not improve, so patience=2
    # stops at epoch 4 and restores epoch 2's weights.
    result = bench_epochbench.replay(hand_made_curve(), keras_early_stopping(2))
    assert result == {"epochs_run": 5, "chosen": 2}


def test_replay_without_a_stop_runs_the_budget_and_keeps_the_best_epoch():
    result = bench_epochbench.replay(hand_made_curve(), keras_early_stopping(5))
    assert result == {"epochs_run": 10, "chosen": 9}


def test_score_reports_share_used_hit_rate_and_regret_against_the_reference():
    curve = hand_made_curve()
    assert bench_epochbench.reference_epoch(curve) == 9
    figures = bench_epochbench.score([curve], lambda: keras_early_stopping(2))
    assert figures["share"] == pytest.approx(0.5)
    assert figures["hit_rate"] == 0.0
    assert figures["regret_mean"] == pytest.approx(10.0)
    assert figures["regret_worst"] == pytest.approx(10.0)


def test_clairvoyant_floor_is_the_first_prefix_whose_best_epoch_is_a_hit():
    # After 8 epochs the best val_loss so far is epoch 7, whose accuracy is
    # 0.3 points below the reference's: within the 0.5-point tolerance.
    curve = hand_made_curve()
    assert bench_epochbench.is_hit(curve, 7)
    assert not bench_epochbench.is_hit(curve, 6)
    assert bench_epochbench.clairvoyant_epochs(curve) == 8
