"""Writes benchmark tables into docs/benchmarks.md, one named section each.

Every benchmark script owns one section, delimited by HTML comments, and
rewrites only that section, so scripts can run in any order:

    <!-- begin: metrics -->
    ...table, command, machine, date...
    <!-- end: metrics -->
"""

from __future__ import annotations

import datetime
import os
import pathlib
import platform
import sys
import tempfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
BENCHMARKS_MD = ROOT / "docs" / "benchmarks.md"


def quartiles(values) -> tuple[float, float, float]:
    """Lower quartile, median and upper quartile (linear interpolation).

    Infinities are allowed: a quartile between two of them is that infinity,
    not the NaN that interpolating would give.
    """
    clamped = np.clip(np.asarray(values, dtype=float), -1e300, 1e300)
    q1, q2, q3 = np.percentile(clamped, [25, 50, 75])
    return tuple(
        float(q) if abs(q) < 1e300 else float(np.sign(q) * np.inf) for q in (q1, q2, q3)
    )


def machine_description() -> str:
    """One line naming the machine, Python, Keras and the backend."""
    import keras

    cpus = os.cpu_count()
    return (
        f"{platform.machine()} {platform.system()}, {cpus} CPU cores, "
        f"Python {platform.python_version()}, Keras {keras.__version__}"
    )


def markdown_table(headers: list[str], rows: list[list[object]]) -> str:
    """Renders a GitHub-flavoured Markdown table."""
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines)


def write_section(name: str, body: str, *, command: str | None = None) -> None:
    """Replaces (or appends) the section `name` of docs/benchmarks.md atomically.

    Args:
        name: the section's key, e.g. "metrics".
        body: Markdown with the section's heading and table(s).
        command: the command that produced it; defaults to this process's argv.
    """
    command = command or "python " + " ".join(sys.argv)
    stamp = datetime.date.today().isoformat()
    block = (
        f"<!-- begin: {name} -->\n{body.rstrip()}\n\n"
        f"Produced by `{command}` on {stamp}; machine: {machine_description()}.\n"
        f"<!-- end: {name} -->"
    )
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else "# Benchmarks\n"
    begin, end = f"<!-- begin: {name} -->", f"<!-- end: {name} -->"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    _atomic_write(BENCHMARKS_MD, text)


def _atomic_write(path: pathlib.Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
