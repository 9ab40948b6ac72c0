"""A training run that the fault tests kill with SIGKILL and start again.

Run as `python fault_child.py WORKDIR MODE`; MODE is "deterministic" (fixed data
order, no augmentation), "augmented" (shuffled data, noise and dropout), or
"keras-first" / "keras-last": `BackupAndRestore(dir)` alone beside Keras's
`ReduceLROnPlateau`, `ModelCheckpoint(save_best_only=True)` and `CSVLogger`
and keras-epochkit's `EarlyStopping`, with the backup first or last in the
list. It prints one line per event the parent may kill it at:

    EPOCH_END <epoch>            after every callback's on_epoch_end
    BATCH_END <epoch> <batch>    in the middle of an epoch
    WRITE <stage>                inside a backup write (the write then pauses)
    SAVING <checkpoint> <digest> a backup is about to be written, with its digest
    RESTORED <digest>            a backup was restored, with its state digest
    DONE                         training ended; WORKDIR/result.json is written
"""

import hashlib
import json
import os
import sys
import time

EPOCHS = 8


def make_data():
    """A fixed synthetic binary task: 256 samples, 30 features."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 30)).astype("float32")
    y = (x[:, :5].sum(axis=1) + 0.5 * rng.normal(size=256) > 0).astype("float32")
    return x, y[:, None]


def make_model(augmented: bool):
    import keras

    layers = [keras.Input((30,)), keras.layers.Dense(16, activation="relu")]
    if augmented:
        layers += [
            keras.layers.GaussianNoise(0.2, seed=2),
            keras.layers.Dropout(0.3, seed=1),
        ]
    layers += [keras.layers.Dense(1, activation="sigmoid")]
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    return model


def main(workdir: str, mode: str) -> None:
    import keras
    import numpy as np

    from keras_epochkit import _atomic
    from keras_epochkit.callbacks import BackupAndRestore
    from keras_epochkit.callbacks import backup_and_restore as backup_module

    augmented = mode == "augmented"

    def say(line):
        print(line, flush=True)

    def digest(value) -> str:
        h = hashlib.sha256()

        def feed(v):
            if isinstance(v, dict):
                for k in sorted(v):
                    h.update(str(k).encode())
                    feed(v[k])
            elif isinstance(v, list | tuple):
                for item in v:
                    feed(item)
            elif isinstance(v, np.ndarray):
                h.update(np.ascontiguousarray(v).tobytes())
            else:
                h.update(repr(v).encode())

        feed(value)
        return h.hexdigest()[:16]

    # Pause inside every stage of a backup write so the parent can kill there.
    original_fsync = backup_module._fsync_file
    original_write = _atomic.write_text

    def slow_fsync(path):
        say(f"WRITE {path.name}")
        time.sleep(0.05)
        original_fsync(path)

    def slow_write(path, text, **kwargs):
        say(f"WRITE {os.path.basename(path)}")
        time.sleep(0.05)
        original_write(path, text, **kwargs)

    backup_module._fsync_file = slow_fsync
    _atomic.write_text = slow_write

    class Ledger(keras.callbacks.Callback):
        """Keeps every epoch's loss and learning rate: the run's trajectory."""

        def on_train_begin(self, logs=None):
            self.losses, self.rates = [], []

        def on_epoch_end(self, epoch, logs=None):
            self.losses.append(float(logs["loss"]))
            self.rates.append(float(self.model.optimizer.learning_rate))

        def get_state(self):
            return {"losses": list(self.losses), "rates": list(self.rates)}

        def set_state(self, state):
            self.losses, self.rates = list(state["losses"]), list(state["rates"])

    class Events(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            say(f"BATCH_END {self.epoch} {batch}")

        def on_epoch_end(self, epoch, logs=None):
            say(f"EPOCH_END {epoch}")

    class ReportingBackup(BackupAndRestore):
        def _save(self, **kwargs):
            name = f"ckpt-{self._next_index():08d}"
            say(f"SAVING {name} {digest(self._snapshot())}")
            super()._save(**kwargs)

        def _set_states(self, state):
            super()._set_states(state)
            # Before any replay: what comes back is what was saved.
            say(f"RESTORED {digest(self._snapshot())}")

        def _snapshot(self):
            seeds = backup_module._seed_states(self.model)
            return {
                "callbacks": {h.key: h.get_state() for h in self._handles},
                "generators": [keras.ops.convert_to_numpy(v) for v in seeds],
                "weights": [np.asarray(w) for w in self.model.get_weights()],
            }

    keras.utils.set_random_seed(0)
    x, y = make_data()
    if mode.startswith("keras-"):
        run_keras_callbacks(workdir, mode, x, y, ReportingBackup, Events, say)
        return
    model = make_model(augmented)

    ledger = Ledger()
    decay = keras.callbacks.LearningRateScheduler(lambda epoch: 0.01 * 0.8**epoch)
    backup = ReportingBackup(os.path.join(workdir, "backup"), callbacks=[ledger])
    model.fit(
        x,
        y,
        batch_size=64,
        epochs=EPOCHS,
        shuffle=augmented,
        verbose=0,
        callbacks=[ledger, backup, decay, Events()],
    )
    result = {
        "losses": ledger.losses,
        "rates": ledger.rates,
        "weights": [w.tolist() for w in model.get_weights()],
    }
    _atomic.write_text(os.path.join(workdir, "result.json"), json.dumps(result))
    say("DONE")


KERAS_EPOCHS = 24  # the run stops at epoch 11 (best 7), the rate cut 3 times


def make_keras_model():
    import keras

    model = keras.Sequential(
        [
            keras.Input((30,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.003), loss="binary_crossentropy")
    return model


def run_keras_callbacks(workdir, mode, x, y, backup_class, events_class, say):
    """The callbacks people use, with `BackupAndRestore(dir)` given nothing else."""
    import keras
    import numpy as np

    from keras_epochkit import _atomic
    from keras_epochkit.callbacks import EarlyStopping

    # Few, noisy training samples: the validation loss turns, the learning
    # rate is cut, the best checkpoint moves, and training stops early.
    rng = np.random.default_rng(1)
    flip = rng.random(128) < 0.3
    y_train = np.where(flip[:, None], 1 - y[:128], y[:128])
    model = make_keras_model()
    best_path = os.path.join(workdir, "best.weights.h5")
    csv_path = os.path.join(workdir, "log.csv")
    stopper = EarlyStopping(patience=4, restore_best_weights=True)
    callbacks = [
        keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=1, min_lr=1e-4),
        keras.callbacks.ModelCheckpoint(
            best_path, save_best_only=True, save_weights_only=True
        ),
        stopper,
        keras.callbacks.CSVLogger(csv_path),
        events_class(),
    ]
    backup = backup_class(os.path.join(workdir, "backup"))
    callbacks = [backup, *callbacks] if mode == "keras-first" else [*callbacks, backup]
    history = model.fit(
        x[:128],
        y_train,
        validation_data=(x[128:], y[128:]),
        batch_size=32,
        epochs=KERAS_EPOCHS,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )
    best = keras.models.clone_model(model)
    best.load_weights(best_path)
    result = {
        "epochs": history.epoch,
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "stopped_epoch": int(stopper.stopped_epoch),
        "best_epoch": int(stopper.best_epoch),
        "stop_reason": None
        if stopper.stop_reason is None
        else int(stopper.stop_reason),
        "csv": open(csv_path).read(),
        "best_checkpoint": [w.tolist() for w in best.get_weights()],
        "weights": [w.tolist() for w in model.get_weights()],
    }
    _atomic.write_text(os.path.join(workdir, "result.json"), json.dumps(result))
    say("DONE")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
