"""Versioned leaderboards: paper-reported and measured rows as append-only JSON Lines.

`data/<suite>.jsonl` are the live boards, `releases/<suite>@v<N>.jsonl` frozen copies, and
`schema.json` the row schema (validated by hand in `store.validate_row`). See store.py.
"""

from leaderboards.store import (
    DEFAULT_PROTOCOL,
    FID_METRICS,
    GENEVAL_METRICS,
    SUITES,
    Diff,
    LeaderboardError,
    PartialLineWarning,
    append_row,
    board_root,
    check_suite,
    diff,
    format_diff,
    freeze,
    latest,
    live_path,
    measured_row,
    provenance,
    read_jsonl,
    read_rows,
    releases,
    resolve_board,
    row_key,
    summarize_seeds,
    validate_row,
)

__all__ = [
    "DEFAULT_PROTOCOL",
    "FID_METRICS",
    "GENEVAL_METRICS",
    "SUITES",
    "Diff",
    "LeaderboardError",
    "PartialLineWarning",
    "append_row",
    "board_root",
    "check_suite",
    "diff",
    "format_diff",
    "freeze",
    "latest",
    "live_path",
    "measured_row",
    "provenance",
    "read_jsonl",
    "read_rows",
    "releases",
    "resolve_board",
    "row_key",
    "summarize_seeds",
    "validate_row",
]
