"""`harness table` and `harness leaderboard {show,diff,freeze}`; `register(app)` adds them to the main CLI.

Imports of pandas and the table code happen inside the commands so `harness --help` stays fast.
Every error is one line on stderr and exit status 1.
"""

from __future__ import annotations

from typing import Optional

import typer

from leaderboards.store import LeaderboardError


def _fail(e: Exception) -> typer.Exit:
    typer.echo(f"error: {e}", err=True)
    return typer.Exit(1)


def table(
    table: Optional[int] = typer.Option(None, "--table", "-t", help="Table number 1-4; all four when omitted."),
    format: str = typer.Option("markdown", "--format", "-f", help="markdown or latex."),
    suite: Optional[str] = typer.Option(
        None,
        "--suite",
        "-s",
        help="Measured suite to show beside the paper rows (geneval, shapes-geneval "
        "for Tables 1/3/4; imagenet256, shapes-fid for Table 2).",
    ),
) -> None:
    """Render the paper's Tables 1-4 (paper rows and measured rows side by side)."""
    from harness.tables import render_all, render_table

    try:
        if table is None:
            text = render_all(format, suite)  # type: ignore[arg-type]
        else:
            text = render_table(table, format, suite)  # type: ignore[arg-type]
    except LeaderboardError as e:
        raise _fail(e) from None
    typer.echo(text)


lb = typer.Typer(help="Versioned leaderboards: show, diff and freeze JSON Lines boards.", no_args_is_help=True)


@lb.command("show")
def show(
    board: str = typer.Argument(..., help="Suite (live board), SUITE@vN (release) or a .jsonl path."),
    all_rows: bool = typer.Option(False, "--all", help="Every row, superseded ones included."),
    provenance: bool = typer.Option(
        False,
        "--provenance",
        "-p",
        help="Also show which generator made each row: fingerprint, checkpoint and teacher sha256, git commit.",
    ),
) -> None:
    """List the rows of a board, one line each."""
    from leaderboards.store import latest, read_jsonl, resolve_board

    try:
        path = resolve_board(board)
        rows = read_jsonl(path)
    except LeaderboardError as e:
        raise _fail(e) from None
    rows = rows if all_rows else latest(rows)
    typer.echo(f"{path}: {len(rows)} row(s)")
    for r in rows:
        metrics = " ".join(
            f"{k}={m['mean']:.4g}" + (f"±{(m['interval'][1] - m['interval'][0]) / 2:.2g}" if "interval" in m else "")
            for k, m in r["metrics"].items()
        )
        where = r.get("paper_table") or (r.get("provenance") or {}).get("date", "")
        steps = "-" if r["steps"] is None else r["steps"]
        variant = f"[{r['variant']}]" if r["variant"] else ""
        typer.echo(
            f"{r['source']:8} {r['method']}{variant} steps={steps} {r['protocol']} {metrics}  ({r['label']}; {where})"
        )
        if provenance and r["source"] == "measured":
            typer.echo("         " + _made_by(r))


def _short(x) -> str:
    return str(x)[:12] if x else "-"


def row_teacher(row: dict) -> tuple[str | None, str]:
    """(sha256 of the teacher a shapes row was made with, how we know). Rows with a fingerprint carry it;
    older rows are resolved from the teacher asset as committed at the row's git commit."""
    nets = ((row.get("eval") or {}).get("generator") or {}).get("networks") or {}
    if isinstance(nets.get("teacher"), str):
        return nets["teacher"], "row"
    from harness.assets import TEACHER_ASSETS

    name = TEACHER_ASSETS.get(row.get("task", ""))
    commit = ((row.get("provenance") or {}).get("git_commit") or "").replace("-dirty", "")
    if not name or not commit:
        return None, "unknown"
    import json
    import subprocess
    from pathlib import Path

    try:
        out = subprocess.run(
            ["git", "show", f"{commit}:harness/assets/{name}.json"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent,
            timeout=10,
        )
        return (json.loads(out.stdout).get("sha256"), "git") if out.returncode == 0 else (None, "unknown")
    except (OSError, subprocess.SubprocessError, json.JSONDecodeError):
        return None, "unknown"


def shipped_teacher(task: str) -> str | None:
    from harness.assets import TEACHER_ASSETS, asset_sha256

    name = TEACHER_ASSETS.get(task)
    return asset_sha256(name) if name else None


def _made_by(row: dict) -> str:
    """Which generator made a measured row (rows before fingerprints say so), and whether its teacher is
    still the shipped one (a row made with an older teacher is marked stale; rows are never edited)."""
    prov, ev = row.get("provenance") or {}, row.get("eval") or {}
    teacher, how = row_teacher(row)
    current = shipped_teacher(row.get("task", ""))
    stale = "  STALE: made with an older teacher" if teacher and current and teacher != current else ""
    if ev.get("fingerprint"):
        made = f"fingerprint={_short(ev['fingerprint'])}"
    elif ev.get("fingerprints"):  # a `harness reproduce` row: one generator per training seed
        made = f"fingerprints={','.join(_short(f) for f in ev['fingerprints'])}"
    else:
        made = "fingerprint=none (made before fingerprints)"
    return (
        f"{made} "
        f"checkpoint={_short(prov.get('checkpoint_sha256'))} teacher={_short(teacher)}"
        f"{' (from git)' if how == 'git' else ''} commit={_short(prov.get('git_commit'))}{stale}"
    )


@lb.command("diff")
def diff_cmd(
    old: str = typer.Argument(..., help="Old board: SUITE@vN, SUITE (live) or a .jsonl path."),
    new: str = typer.Argument(..., help="New board, same forms."),
) -> None:
    """Rows added, removed and changed; '!' flags rows whose protocol changed (not comparable)."""
    from leaderboards.store import diff, format_diff, resolve_board

    try:
        d = diff(resolve_board(old), resolve_board(new))
    except LeaderboardError as e:
        raise _fail(e) from None
    typer.echo(format_diff(d))


@lb.command("freeze")
def freeze_cmd(suite: str = typer.Argument(..., help="Suite whose live board becomes the next release.")) -> None:
    """Copy the live board of SUITE to releases/SUITE@vN.jsonl (a new file; releases are never edited)."""
    from leaderboards.store import freeze

    try:
        path = freeze(suite)
    except LeaderboardError as e:
        raise _fail(e) from None
    typer.echo(f"froze {suite} -> {path}")


def register(app: typer.Typer) -> None:
    """Add `table` and the `leaderboard` group to the main CLI."""
    app.command("table")(table)
    app.add_typer(lb, name="leaderboard")
