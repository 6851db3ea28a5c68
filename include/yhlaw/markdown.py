"""What the generated documents share: a value as one cell of a markdown table."""

from __future__ import annotations


def cell(text: object) -> str:
    """One line, runs of white space folded, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")
