"""Keras's own callback tests, run against the keras-epochkit classes.

Keras ships the test files of its callbacks inside the installed wheel
(`keras/src/callbacks/*_test.py`). Each one is read from the installed
package (never copied here), the one class under test is bound to ours in the
module's `callbacks` namespace (every other name stays Keras's), and every
test method runs as Keras wrote it.

Only assertions on Keras's private attributes or on its exact error wording
are adapted; `ADAPTATIONS` lists each one with its reason, and each one must
still match the installed file exactly, so a new Keras release that changes
a test fails here instead of being silently skipped. Tests that fail for a
known gap are marked `xfail(strict=True)` in `KNOWN_GAPS`, with the reason:
once the gap is closed, the mark must go.
"""

from __future__ import annotations

import linecache
import pathlib
import sys
import types
import unittest

import keras
import pytest

import keras_epochkit as ek

KERAS_CALLBACKS = pathlib.Path(keras.__file__).parent / "src" / "callbacks"

# The class each file tests, and ours that stands in for it.
SUBJECTS = {
    "backup_and_restore_test.py": ("BackupAndRestore", ek.callbacks.BackupAndRestore),
    "csv_logger_test.py": ("CSVLogger", ek.callbacks.CSVLogger),
    "early_stopping_test.py": ("EarlyStopping", ek.callbacks.EarlyStopping),
}

_HELPERS = '''

def _epochkit_backup(cbk, previous=False):
    """The newest (or the previous) backup directory of an epochkit callback."""
    import json as _json
    import pathlib as _pathlib

    root = _pathlib.Path(cbk.backup_dir)
    newest = _json.loads((root / "LATEST").read_text())["checkpoint"]
    if not previous:
        return root / newest
    older = sorted(p.name for p in root.iterdir() if p.name.startswith("ckpt-"))
    older = [name for name in older if name < newest]
    return root / (older[-1] if older else "no-previous-backup")
'''

# (file, the exact text in Keras's test, what runs instead, why).
ADAPTATIONS = [
    (
        "backup_and_restore_test.py",
        'with self.assertRaisesRegex(ValueError, expected_regex="Invalid value"):\n'
        "            callbacks.BackupAndRestore(\n"
        '                backup_dir="backup_dir", save_freq="batch"',
        'with self.assertRaisesRegex(ValueError, expected_regex="`save_freq`"):\n'
        "            callbacks.BackupAndRestore(\n"
        '                backup_dir="backup_dir", save_freq="batch"',
        "error wording: ours is the package's one wording, naming the argument",
    ),
    (
        "backup_and_restore_test.py",
        'with self.assertRaisesRegex(ValueError, expected_regex="Invalid value"):\n'
        '            callbacks.BackupAndRestore(backup_dir="backup_dir", save_freq=0.15)',
        'with self.assertRaisesRegex(ValueError, expected_regex="`save_freq`"):\n'
        '            callbacks.BackupAndRestore(backup_dir="backup_dir", save_freq=0.15)',
        "error wording: ours is the package's one wording, naming the argument",
    ),
    (
        "backup_and_restore_test.py",
        'ValueError, expected_regex="Empty `backup_dir` argument passed"\n'
        "        ):\n"
        '            callbacks.BackupAndRestore(backup_dir="", save_freq="epoch")',
        'ValueError, expected_regex="`backup_dir` must be a non-empty path"\n'
        "        ):\n"
        '            callbacks.BackupAndRestore(backup_dir="", save_freq="epoch")',
        "error wording: ours is the package's one wording, naming the argument",
    ),
    (
        "backup_and_restore_test.py",
        'ValueError, expected_regex="Empty `backup_dir` argument passed"\n'
        "        ):\n"
        '            callbacks.BackupAndRestore(backup_dir=None, save_freq="epoch")',
        'ValueError, expected_regex="`backup_dir` must be a non-empty path"\n'
        "        ):\n"
        '            callbacks.BackupAndRestore(backup_dir=None, save_freq="epoch")',
        "error wording: ours is the package's one wording, naming the argument",
    ),
    (
        "backup_and_restore_test.py",
        "            self.assertEqual(cbk._last_batch_seen, 1)\n",
        "",
        "private attribute: Keras's batch counter; ours counts batches since the "
        "last save, which the backup's restored batch position covers",
    ),
    (
        "backup_and_restore_test.py",
        "self.assertTrue(file_utils.exists(cbk._weights_path))\n"
        "            self.assertTrue(file_utils.exists(cbk._training_metadata_path))\n"
        "            self.assertTrue(file_utils.exists(cbk._prev_weights_path))\n"
        "            self.assertTrue(file_utils.exists(cbk._prev_training_metadata_path))",
        'self.assertTrue((_epochkit_backup(cbk) / "model.weights.h5").exists())\n'
        '            self.assertTrue((_epochkit_backup(cbk) / "state.json").exists())\n'
        "            self.assertTrue(\n"
        '                (_epochkit_backup(cbk, True) / "model.weights.h5").exists()\n'
        "            )\n"
        "            self.assertTrue(\n"
        '                (_epochkit_backup(cbk, True) / "state.json").exists()\n'
        "            )",
        "private attributes: Keras's file paths; ours are the files of the newest "
        "and the previous checkpoint directory",
    ),
    (
        "backup_and_restore_test.py",
        'with file_utils.File(cbk._weights_path, "w") as f:',
        'with file_utils.File(_epochkit_backup(cbk) / "model.weights.h5", "w") as f:',
        "private attribute: Keras's path of the newest weights file",
    ),
]

# Tests that fail for a known gap: (file, class, method) -> reason.
KNOWN_GAPS: dict[tuple[str, str, str], str] = {}


def _load(filename: str) -> types.ModuleType:
    path = KERAS_CALLBACKS / filename
    source = path.read_text()
    for target, text, replacement, reason in ADAPTATIONS:
        if target != filename:
            continue
        count = source.count(text)
        assert count == 1, (
            f"adaptation no longer matches {filename} exactly once "
            f"({count} times; {reason}): {text!r}"
        )
        source = source.replace(text, replacement)
    name = f"keras_parity_{path.stem}"
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    # Tracebacks show the adapted source, at its own line numbers.
    source += _HELPERS
    shown = f"{path} (as run by {pathlib.Path(__file__).name})"
    linecache.cache[shown] = (len(source), None, source.splitlines(True), shown)
    exec(compile(source, shown, "exec"), module.__dict__)
    # Keras's `callbacks` namespace, with our class in place of Keras's.
    class_name, ours = SUBJECTS[filename]
    namespace = types.ModuleType(f"{name}.callbacks")
    namespace.__dict__.update(vars(module.callbacks))
    setattr(namespace, class_name, ours)
    module.callbacks = namespace
    return module


def _cases():
    cases = []
    for filename in SUBJECTS:
        if not (KERAS_CALLBACKS / filename).exists():
            continue
        module = _load(filename)
        for attribute in sorted(vars(module)):
            cls = getattr(module, attribute)
            if not (
                isinstance(cls, type)
                and issubclass(cls, unittest.TestCase)
                and cls.__module__ == module.__name__
            ):
                continue
            for method in sorted(m for m in dir(cls) if m.startswith("test")):
                key = (filename, cls.__name__, method)
                marks = []
                if key in KNOWN_GAPS:
                    marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[key]))
                cases.append(
                    pytest.param(
                        cls, method, id=f"{filename}::{key[1]}::{method}", marks=marks
                    )
                )
    return cases


def test_keras_test_files_ship_with_the_installed_keras():
    missing = [name for name in SUBJECTS if not (KERAS_CALLBACKS / name).exists()]
    if missing and len(missing) == len(SUBJECTS):
        # Older Keras wheels (3.12 among them) ship no test files at all; the
        # parity run needs a release that does, as the newest-Keras CI run has.
        pytest.skip(f"Keras {keras.__version__} ships no callback test files")
    assert not missing, f"not in the installed Keras {keras.__version__}: {missing}"


@pytest.mark.parametrize(("cls", "method"), _cases())
def test_keras_own_test_passes_against_ours(cls, method):
    result = unittest.TestResult()
    cls(method).run(result)
    problems = result.errors + result.failures
    if problems:
        pytest.fail(problems[0][1], pytrace=False)
    if result.skipped:
        pytest.skip(result.skipped[0][1])
