"""Exceptions the evaluators raise for problems a user can fix (missing weights, bad input files).

docs/references/design.md §4: bad input gets a clear one-line error naming the fix, never a deep traceback.
"""

from __future__ import annotations


class EvaluatorError(Exception):
    """A one-line, user-fixable evaluator problem; the message names the fix."""


class MissingWeights(EvaluatorError):
    """A network's weight file is not on this machine (no downloads happen at run time)."""

    def __init__(self, what: str, filename: str, url: str, hint: str = "") -> None:
        self.what, self.filename, self.url = what, filename, url
        extra = f"; {hint}" if hint else ""
        super().__init__(f"{what} weights not found: download {filename} from {url} and pass its path{extra}")
