import keras
import numpy as np
import pytest

import keras_epochkit as ek
from tests.layers.stats_support import numpy


def _shifted(x, shifts, axes, fill):
    """Reference: out[b, ..., i, ...] = x[b, ..., i - shift, ...], else fill."""
    out = np.full_like(x, fill)
    for b in range(len(x)):
        src = [slice(None)] * (x.ndim - 1)
        dst = [slice(None)] * (x.ndim - 1)
        for column, axis in enumerate(axes):
            n, s = x.shape[axis], int(shifts[b, column])
            src[axis - 1] = slice(max(0, -s), min(n, n - s))
            dst[axis - 1] = slice(max(0, s), min(n, n + s))
        out[b][tuple(dst)] = x[b][tuple(src)]
    return out


@pytest.mark.parametrize(
    "shape, axes", [((6, 9, 2), (1,)), ((6, 7, 5, 3), (1, 2)), ((6, 7, 5, 3), (2,))]
)
def test_moves_each_sample_by_its_drawn_shift_and_fills_the_rest(shape, axes):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    layer = ek.layers.RandomShift(0.45, axes=axes, fill_value=-5.0, seed=3)
    transformation = layer.get_random_transformation(x)
    shifts = numpy(transformation["shifts"])
    assert shifts.shape == (shape[0], len(axes))
    np.testing.assert_array_equal(
        numpy(layer.transform(x, transformation)), _shifted(x, shifts, axes, -5.0)
    )


def test_shifts_round_a_uniform_draw_within_factor_times_the_length():
    layer = ek.layers.RandomShift(0.1, axes=(1, 2), seed=0)
    shifts = numpy(
        layer.get_random_transformation(np.zeros((4000, 8, 30, 1), "float32"))["shifts"]
    )
    # Height 8: uniform on [-0.8, 0.8] rounds to -1, 0, 1 with 0.1875, 0.625,
    # 0.1875, as RandomTranslation with nearest sampling; width 30: -3..3.
    values, counts = np.unique(shifts[:, 0], return_counts=True)
    assert values.tolist() == [-1, 0, 1]
    np.testing.assert_allclose(counts / 4000, [0.1875, 0.625, 0.1875], atol=0.03)
    assert set(np.unique(shifts[:, 1]).tolist()) == set(range(-3, 4))
    assert abs(shifts[:, 1].mean()) < 0.15


def test_strength_scales_the_shift_and_zero_strength_is_the_identity():
    x = np.random.default_rng(1).normal(size=(64, 40, 2)).astype("float32")
    layer = ek.layers.RandomShift(0.2, seed=0)
    np.testing.assert_array_equal(numpy(layer(x, strength=0.0)), x)
    half = numpy(layer.get_random_transformation(x, strength=0.5)["shifts"])
    assert np.abs(half).max() <= 4 and np.abs(half).max() >= 2


def test_trains_compiled_on_images_and_reloads(tmp_path):
    x = np.random.default_rng(2).random((64, 8, 8, 1)).astype("float32")
    y = np.random.default_rng(3).integers(0, 3, 64)
    inputs = keras.Input((8, 8, 1))
    hidden = ek.layers.RandomShift(0.1, axes=(1, 2), seed=4)(inputs)
    hidden = keras.layers.Flatten()(hidden)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))
    jit = keras.backend.backend() != "torch"
    model.compile("adam", "sparse_categorical_crossentropy", jit_compile=jit)
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        numpy(restored.predict(x, verbose=0)), numpy(model.predict(x, verbose=0))
    )
    assert restored.layers[1].get_config()["axes"] == [1, 2]


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"factor": 1.0}, "factor"),
        ({"factor": -0.1}, "factor"),
        ({"factor": "a lot"}, "factor"),
        ({"axes": 0}, "axes"),
        ({"axes": (1, 1)}, "axes"),
        ({"axes": ()}, "axes"),
        ({"axes": "1"}, "axes"),
        ({"axes": (1, True)}, "axes"),
        ({"fill_value": float("nan")}, "fill_value"),
    ],
)
def test_rejects_invalid_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}` must be"):
        ek.layers.RandomShift(**kwargs)


def test_refuses_an_axis_the_inputs_do_not_have():
    with pytest.raises(ValueError, match="at least 4 axes"):
        ek.layers.RandomShift(axes=(1, 3))(np.zeros((2, 5, 3), "float32"))
