"""A per-class precision/recall/F1 table every few epochs, printed and saved."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from keras_epochkit import _atomic
from keras_epochkit.callbacks._stateful import StatefulCallback
from keras_epochkit.metrics.confusion_matrix import ConfusionMatrix


class ClassificationReport(StatefulCallback):
    """Prints a scikit-learn-style classification report and saves it as JSON.

    Every `every_n_epochs` epochs, and once more at the end of training, the
    callback computes per-class precision, recall, F1 and support (plus
    accuracy and the macro and support-weighted averages; the micro average
    for multilabel tasks) from a confusion matrix, prints the table and, with
    `path`, rewrites a JSON file holding every report so far.

    The confusion matrix comes from one of two places:

    * a `keras_epochkit.metrics.ConfusionMatrix` compiled into the model: at
      epoch end it holds the counts of the validation pass (or of the
      training epoch when `fit` has no validation data; the report says
      which), so no extra pass over the data is needed;
    * explicit `validation_data`: the callback predicts it and counts with a
      copy of the `confusion_matrix` metric given (or of the compiled one).

    Support is the (weighted) number of true samples of each class, read
    from the counts. Scores of a class with no predicted (or no true)
    samples are 0, as with scikit-learn's `zero_division=0`.

    The state returned by `get_state()` is `{"reports": [...]}`: every report
    made so far, each `{"epoch", "source", "report"}`, where `report` has the
    layout of `sklearn.metrics.classification_report(output_dict=True)`.

    Args:
        validation_data: `(x, y)` or `(x, y, sample_weight)` arrays, or a
            dataset yielding such batches, to predict and count. Defaults to
            `None` (read a compiled `ConfusionMatrix`).
        confusion_matrix: the compiled `ConfusionMatrix` to read, by name
            (`str`), or a `ConfusionMatrix` instance that says how to count
            `validation_data` (task, number of classes, threshold, logits).
            Defaults to `None`: the model's only compiled `ConfusionMatrix`.
        class_names: names of the classes in the table. Defaults to `None`:
            the metric's `class_names`, else the class indices.
        every_n_epochs: report after every `every_n_epochs`-th epoch; `0`
            reports only at the end of training. Defaults to `1`.
        path: JSON file to (re)write atomically after each report. Defaults
            to `None` (no file).
        digits: decimals in the printed table. Defaults to `2`.
        batch_size: batch size to predict `validation_data` arrays with.
            Defaults to `None` (Keras's default of 32).
        print_fn: function that prints the table; `None` prints nothing.
            Defaults to `print`.

    Examples:
        >>> import numpy as np
        >>> import keras
        >>> import keras_epochkit as ek
        >>> x = np.eye(3, dtype="float32").repeat(4, axis=0)
        >>> y = np.arange(3).repeat(4)
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Softmax()])
        >>> model.compile(
        ...     loss="sparse_categorical_crossentropy",
        ...     metrics=[ek.metrics.ConfusionMatrix(num_classes=3)],
        ... )
        >>> report = ek.callbacks.ClassificationReport(every_n_epochs=0, print_fn=None)
        >>> _ = model.fit(x, y, validation_data=(x, y), epochs=1, verbose=0,
        ...               callbacks=[report])
        >>> macro = report.last_report["macro avg"]
        >>> macro["f1-score"]
        1.0
    """

    def __init__(
        self,
        validation_data: Any = None,
        confusion_matrix: str | ConfusionMatrix | None = None,
        class_names: list[str] | None = None,
        every_n_epochs: int = 1,
        path: str | os.PathLike | None = None,
        digits: int = 2,
        batch_size: int | None = None,
        print_fn: Callable[[str], None] | None = print,
    ):
        super().__init__()
        if confusion_matrix is not None and not isinstance(
            confusion_matrix, (str, ConfusionMatrix)
        ):
            raise ValueError(
                "Argument `confusion_matrix` must be None, the name of a compiled "
                "ConfusionMatrix or a ConfusionMatrix instance. Received: "
                f"confusion_matrix={confusion_matrix!r}"
            )
        if isinstance(confusion_matrix, str) and validation_data is not None:
            raise ValueError(
                "With `validation_data`, pass `confusion_matrix` as a "
                "ConfusionMatrix instance (or None), not a name. Received: "
                f"confusion_matrix={confusion_matrix!r}"
            )
        if validation_data is not None and isinstance(validation_data, (tuple, list)):
            if len(validation_data) not in (2, 3):
                raise ValueError(
                    "Argument `validation_data` must be (x, y) or "
                    "(x, y, sample_weight). Received a sequence of length "
                    f"{len(validation_data)}."
                )
        if not isinstance(every_n_epochs, int) or every_n_epochs < 0:
            raise ValueError(
                "Argument `every_n_epochs` must be an integer >= 0. Received: "
                f"every_n_epochs={every_n_epochs!r}"
            )
        if not isinstance(digits, int) or digits < 0:
            raise ValueError(
                f"Argument `digits` must be an integer >= 0. Received: digits={digits!r}"
            )
        self.validation_data = validation_data
        self.confusion_matrix = confusion_matrix
        self.class_names = (
            None if class_names is None else [str(c) for c in class_names]
        )
        self.every_n_epochs = every_n_epochs
        self.path = None if path is None else os.fspath(path)
        self.digits = digits
        self.batch_size = batch_size
        self.print_fn = print_fn
        self.reports: list[dict] = []
        self._counter = None

    # --- state --------------------------------------------------------------
    @property
    def last_report(self) -> dict | None:
        """The most recent report (scikit-learn's `output_dict` layout)."""
        return self.reports[-1]["report"] if self.reports else None

    def reset_state(self) -> None:
        """Forgets every report made."""
        self.reports = []

    def _get_state(self) -> dict:
        """`{"reports": [...]}`, every report made so far."""
        return {"reports": json.loads(json.dumps(self.reports))}

    def _set_state(self, state: dict) -> None:
        self.reports = json.loads(json.dumps(state.get("reports", [])))

    # --- Keras hooks ----------------------------------------------------------
    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._counter = None
        self._last_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        self._last_epoch = epoch
        if self.every_n_epochs and (epoch + 1) % self.every_n_epochs == 0:
            self._report(epoch, logs or {})

    def on_train_end(self, logs=None):
        super().on_train_end(logs)
        epoch = getattr(self, "_last_epoch", None)
        if epoch is None:
            return
        if self.reports and self.reports[-1]["epoch"] == epoch:
            self._emit(self.reports[-1], final=True)
            return
        self._report(epoch, logs or {}, final=True)

    # --- counting -------------------------------------------------------------
    def _compiled_matrix(self) -> ConfusionMatrix | None:
        found = []
        for metric in self.model.metrics:
            inner = getattr(metric, "metrics", None)
            for candidate in inner if isinstance(inner, list) else [metric]:
                if isinstance(candidate, ConfusionMatrix):
                    found.append(candidate)
        if isinstance(self.confusion_matrix, str):
            named = [m for m in found if m.name == self.confusion_matrix]
            if not named:
                raise ValueError(
                    f"ClassificationReport found no compiled ConfusionMatrix named "
                    f"{self.confusion_matrix!r}; compiled ones: "
                    f"{[m.name for m in found]}"
                )
            return named[0]
        if len(found) > 1 and self.validation_data is None:
            raise ValueError(
                "The model compiles several ConfusionMatrix metrics "
                f"{[m.name for m in found]}; pass `confusion_matrix=<name>`."
            )
        return found[0] if found else None

    def _counts_from_validation_data(self) -> tuple[np.ndarray, ConfusionMatrix]:
        if self._counter is None:
            template = self.confusion_matrix
            if template is None:
                template = self._compiled_matrix()
            if template is None:
                raise ValueError(
                    "ClassificationReport with `validation_data` needs to know how "
                    "to count predictions: pass `confusion_matrix=ek.metrics."
                    "ConfusionMatrix(...)` or compile one into the model."
                )
            self._counter = ConfusionMatrix.from_config(template.get_config())
        counter = self._counter
        counter.reset_state()
        data = self.validation_data
        if isinstance(data, (tuple, list)):
            x, y = data[0], data[1]
            weights = data[2] if len(data) == 3 else None
            y_pred = self.model.predict(x, batch_size=self.batch_size, verbose=0)
            counter.update_state(y, y_pred, sample_weight=weights)
        else:
            for batch in data:
                x, y = batch[0], batch[1]
                weights = batch[2] if len(batch) == 3 else None
                y_pred = self.model.predict_on_batch(x)
                counter.update_state(y, y_pred, sample_weight=weights)
        return keras.ops.convert_to_numpy(counter.result()), counter

    def _report(self, epoch: int, logs: dict, final: bool = False) -> None:
        if self.validation_data is not None:
            counts, metric = self._counts_from_validation_data()
            source = "validation_data"
        else:
            metric = self._compiled_matrix()
            if metric is None:
                raise ValueError(
                    "ClassificationReport needs `validation_data` or a "
                    "keras_epochkit.metrics.ConfusionMatrix compiled into the model."
                )
            counts = keras.ops.convert_to_numpy(metric.result())
            split = (
                "validation" if any(k.startswith("val_") for k in logs) else "training"
            )
            source = f"{metric.name} ({split})"
        names = self.class_names or metric.class_names
        if metric.normalize is not None:
            raise ValueError(
                "ClassificationReport needs counts: use a ConfusionMatrix with "
                f"normalize=None. Received normalize={metric.normalize!r}"
            )
        report = classification_report_from_counts(
            np.asarray(counts, dtype="float64"), metric.task, names
        )
        entry = {"epoch": int(epoch), "source": source, "report": report}
        self.reports.append(entry)
        self._emit(entry, final=final)
        if self.path is not None:
            _atomic.write_text(
                self.path, json.dumps({"reports": self.reports}, indent=2)
            )

    def _emit(self, entry: dict, final: bool = False) -> None:
        if self.print_fn is None:
            return
        title = "Final classification report" if final else "Classification report"
        self.print_fn(
            f"{title} (epoch {entry['epoch'] + 1}, {entry['source']}):\n"
            + format_report(entry["report"], self.digits)
        )


def _scores(tp, fp, fn):
    def divide(num, den):
        return np.divide(num, den, out=np.zeros_like(num), where=den > 0)

    precision = divide(tp, tp + fp)
    recall = divide(tp, tp + fn)
    f1 = divide(2 * tp, 2 * tp + fp + fn)
    return precision, recall, f1


def classification_report_from_counts(
    counts: np.ndarray, task: str, class_names: list[str] | None = None
) -> dict:
    """Builds scikit-learn's `output_dict` report from confusion counts.

    Args:
        counts: a `(K, K)` confusion matrix (rows true classes), or `(K, 2, 2)`
            per-label matrices for a multilabel task.
        task: `"binary"`, `"multiclass"` or `"multilabel"`.
        class_names: row names. Defaults to `None` (the class indices).

    Returns:
        `{name: {"precision", "recall", "f1-score", "support"}, ...}` plus
        `"accuracy"` (binary, multiclass) or `"micro avg"` (multilabel),
        `"macro avg"` and `"weighted avg"`.
    """
    if task == "multilabel":
        tp, fp, fn = counts[:, 1, 1], counts[:, 0, 1], counts[:, 1, 0]
    else:
        tp = np.diag(counts)
        fp = counts.sum(axis=0) - tp
        fn = counts.sum(axis=1) - tp
    support = tp + fn
    names = class_names or [str(i) for i in range(len(tp))]
    precision, recall, f1 = _scores(tp, fp, fn)
    report = {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1-score": float(f1[i]),
            "support": float(support[i]),
        }
        for i, name in enumerate(names)
    }
    total = float(support.sum())
    if task == "multilabel":
        micro = _scores(*(np.array([v.sum()]) for v in (tp, fp, fn)))
        report["micro avg"] = {
            "precision": float(micro[0][0]),
            "recall": float(micro[1][0]),
            "f1-score": float(micro[2][0]),
            "support": total,
        }
    else:
        report["accuracy"] = float(tp.sum() / total) if total > 0 else 0.0
    weights = support / total if total > 0 else np.zeros_like(support)
    report["macro avg"] = {
        "precision": float(precision.mean()),
        "recall": float(recall.mean()),
        "f1-score": float(f1.mean()),
        "support": total,
    }
    report["weighted avg"] = {
        "precision": float((precision * weights).sum()),
        "recall": float((recall * weights).sum()),
        "f1-score": float((f1 * weights).sum()),
        "support": total,
    }
    return report


def format_report(report: dict, digits: int = 2) -> str:
    """Formats an `output_dict` report as scikit-learn's text table."""
    headers = ["precision", "recall", "f1-score", "support"]
    rows = [k for k in report if k != "accuracy"]
    width = max(len("weighted avg"), *(len(k) for k in rows), digits)
    head = " " * width + " " + " ".join(f"{h:>9}" for h in headers)
    lines = [head, ""]

    def row(name, values):
        cells = [
            f"{values['precision']:>9.{digits}f}",
            f"{values['recall']:>9.{digits}f}",
        ]
        cells.append(f"{values['f1-score']:>9.{digits}f}")
        cells.append(f"{_support(values['support']):>9}")
        return f"{name:>{width}} " + " ".join(cells)

    averages = [k for k in rows if k.endswith(" avg")]
    for name in rows:
        if name not in averages:
            lines.append(row(name, report[name]))
    lines.append("")
    if "accuracy" in report:
        total = _support(report["macro avg"]["support"])
        blank = " " * 9
        lines.append(
            f"{'accuracy':>{width}} {blank} {blank} "
            f"{report['accuracy']:>9.{digits}f} {total:>9}"
        )
    for name in averages:
        lines.append(row(name, report[name]))
    return "\n".join(lines)


def _support(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"
