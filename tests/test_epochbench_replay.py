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


def staircase_curve() -> dict:
    # A plateau, a learning-rate drop at epoch 8, then a late improvement.
    val = [1.0, 0.7, 0.6, 0.62, 0.61, 0.63, 0.62, 0.64, 0.62, 0.61, 0.63, 0.55]
    val += [0.56 + 0.01 * t for t in range(20)]
    rows = []
    for t, v in enumerate(val):
        rate = 1e-3 if t < 8 else 3e-4
        rows.append({"loss": 1.0 - 0.01 * t, "val_loss": v, "learning_rate": rate})
    accuracy = [0.5 + 0.4 * (1.0 - v) for v in val]
    return {
        "id": "staircase",
        "family": "hand-made",
        "task": "classification",
        "budget": len(val),
        "train_size": 64,
        "batch_size": 32,
        "logs": rows,
        "test": [{"loss": v, "accuracy": a} for v, a in zip(val, accuracy)],
    }


def test_fast_replay_matches_the_keras_callback_replay_for_trend_patience():
    curve = staircase_curve()
    for aggressiveness in bench_epochbench.AGGRESSIVENESS:
        fast = bench_epochbench.fast_replay(
            curve, bench_epochbench.trend_rules({}, aggressiveness)
        )
        keras_run = bench_epochbench.replay(
            curve, bench_epochbench.trend_callback(aggressiveness)
        )
        assert fast == (keras_run["epochs_run"], keras_run["chosen"])
    stop = bench_epochbench.recommended()
    fast = bench_epochbench.fast_replay(
        curve, list(stop.criteria), **bench_epochbench.recommended_replay_args(stop)
    )
    keras_run = bench_epochbench.replay(curve, bench_epochbench.recommended())
    assert fast == (keras_run["epochs_run"], keras_run["chosen"])
    for patience in (1, 3, 10):
        fast = bench_epochbench.fast_keras(curve, patience)
        keras_run = bench_epochbench.replay(curve, keras_early_stopping(patience))
        assert fast == (keras_run["epochs_run"], keras_run["chosen"])


def test_the_learning_rate_drop_keeps_trend_patience_running_to_the_late_best():
    curve = staircase_curve()
    # Without the drop the count started at epoch 2 would end before epoch 11.
    runs, chosen = bench_epochbench.fast_replay(
        curve, bench_epochbench.trend_rules({"patience": 8, "lr_drop": 0.5})
    )
    assert chosen == 11
    runs_off, chosen_off = bench_epochbench.fast_replay(
        curve, bench_epochbench.trend_rules({"patience": 8, "lr_drop": None})
    )
    assert chosen_off == 2 and runs_off < runs


def test_choose_takes_the_cheapest_rule_reaching_the_bar_and_dominating_finds_keras():
    curve = hand_made_curve()
    curves = [dict(curve, family="f")]
    outcomes = bench_epochbench.Outcomes(curves)
    for p in bench_epochbench.PARETO_PATIENCES:
        outcomes.add(f"keras p={p}", [bench_epochbench.fast_keras(curves[0], p)])
    outcomes.add("slow", [(10, 9)])  # runs to the end, keeps the best epoch: hit
    outcomes.add("cheap-miss", [(5, 2)])
    assert outcomes.figures("slow") == (1.0, 1.0)
    assert (
        bench_epochbench.choose(outcomes, ["slow", "cheap-miss"], None, 1.0) == "slow"
    )
    # With no bar, the choice is the rule farthest inside Keras's line:
    # "slow" uses what the cheapest Keras patience with its hit rate uses
    # (ratio 1), "cheap-miss" more than patience 1 (4 epochs) for the same
    # miss (ratio 1.25).
    assert bench_epochbench.keras_share_at(outcomes, 0.0) == 0.4
    assert bench_epochbench.keras_share_at(outcomes, 1.0) == 1.0
    assert (
        bench_epochbench.choose(outcomes, ["slow", "cheap-miss"], None, 0.0) == "slow"
    )
    outcomes.add("cheap-hit", [(8, 7)])  # epoch 7 is a hit too
    assert outcomes.figures("cheap-hit")[1] == 1.0
    assert (
        bench_epochbench.choose(
            outcomes, ["slow", "cheap-miss", "cheap-hit"], None, 1.0
        )
        == "cheap-hit"
    )
    # Keras patience 4 or more also runs the whole curve and hits: none is
    # strictly better than "slow", so "slow" is not dominated; "cheap-miss"
    # (half the budget, no hit) is dominated by patience 1 (3 epochs, no hit).
    assert bench_epochbench.dominating(outcomes, 1.0, 1.0) == []
    assert 1 in bench_epochbench.dominating(outcomes, 0.5, 0.0)


def test_trend_rules_are_trend_patience_tuned_not_recommended():
    from keras_epochkit import criteria

    rules = bench_epochbench.trend_rules({}, 2.0)
    assert [type(r) for r in rules] == [criteria.TrendPatience, criteria.Divergence]
    assert rules[0].get_config() == criteria.TrendPatience.tuned(2.0).get_config()


def test_out_of_family_table_lists_keras_recommended_and_trend_patience():
    names = [f"Keras `EarlyStopping(patience={p})`" for p in (5, 10, 20)]
    names += ["epochkit `EarlyStopping.recommended()`"]
    names += [
        bench_epochbench.trend_label(a)
        for a in bench_epochbench.OUT_OF_FAMILY_AGGRESSIVENESS
    ]
    results = {
        r: {n: {"share": 0.1 * i, "hit_rate": 0.5} for i, n in enumerate(names)}
        for r in ("a", "b")
    }
    table = bench_epochbench.out_of_family_table(results)
    assert "Recording a: used / hits" in table and "Recording b" in table
    assert "`TrendPatience.tuned(aggressiveness=0.7)` (settings chosen on v2)" in table
    assert "60.0% / 50.0%" in table
