"""Prints the first fenced code block of a README section.

Usage: python scripts/readme_block.py HEADING LANGUAGE [README]

For example `python scripts/readme_block.py Quickstart bash` prints the
command of the README's Quickstart, so that a check runs exactly what the
README says. Exits non-zero, naming what is missing, if there is no such
section or block.
"""

from __future__ import annotations

import pathlib
import re
import sys


def readme_block(text: str, heading: str, language: str) -> str:
    """The first ```language block under `## heading` in Markdown `text`."""
    section = re.search(
        rf"^## {re.escape(heading)}[ \t]*\n(.*?)(?=^## |\Z)", text, re.M | re.S
    )
    if section is None:
        raise LookupError(f"no section '## {heading}'")
    block = re.search(
        rf"^```{re.escape(language)}[ \t]*\n(.*?)^```", section.group(1), re.M | re.S
    )
    if block is None:
        raise LookupError(f"no ```{language} block under '## {heading}'")
    return block.group(1)


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    path = pathlib.Path(argv[2] if len(argv) == 3 else "README.md")
    try:
        print(readme_block(path.read_text(encoding="utf-8"), argv[0], argv[1]), end="")
    except (OSError, LookupError) as error:
        print(f"{path}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
