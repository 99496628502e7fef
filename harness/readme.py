"""`harness readme [--check]`: the README's results tables, rendered from the committed leaderboard rows.

No number in those tables is typed by hand: each table sits between `<!-- results:SUITE -->` and
`<!-- /results:SUITE -->` markers and is regenerated from the latest measured main-configuration rows
of that suite. `--check` exits 1 when the README and the leaderboard disagree (a test runs it).
A row whose teacher is not the shipped one is marked stale (†): rows are never edited, so a result
made with an older teacher stays visible until a newer row supersedes it.
"""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
ORDER = {"teacher": 0, "sdtt": 1, "dimo": 2, "fpd": 3}
NAMES = {"teacher": "teacher", "sdtt": "SDTT", "dimo": "DiMO-style", "fpd": "**FPD**"}
COLUMNS = {
    "shapes-fid": [
        ("fid", "FID ↓", 0),
        ("is", "IS ↑", 1),
        ("precision", "prec. ↑", 3),
        ("recall", "rec. ↑", 2),
        ("detector_accuracy", "detector-correct ↑", 3),
        ("mean_area", "area (px)", 0),
        ("centre_spread", "centre spread (px)", 1),
    ],
    "shapes-geneval": [
        ("overall", "overall ↑", 2),
        ("single_object", "single", 2),
        ("two_object", "two", 2),
        ("counting", "counting", 2),
        ("colors", "colors", 2),
        ("position", "position", 2),
        ("color_attr", "color attr.", 2),
    ],
}


def _cell(row: dict, metric: str, decimals: int) -> str:
    m = row["metrics"].get(metric)
    if m is None:
        return "–"
    text = f"{m['mean']:.{decimals}f}"
    if "interval" in m:
        text += f" ± {(m['interval'][1] - m['interval'][0]) / 2:.{decimals}f}"
    return text


def render_suite(suite: str, root=None) -> str:
    from harness.leaderboard_cli import row_teacher, shipped_teacher
    from leaderboards.store import latest, read_rows

    rows = [
        r
        for r in latest(read_rows(suite, root))
        if r["source"] == "measured" and not r["ablation"] and not r["variant"]
    ]
    rows.sort(key=lambda r: (ORDER.get(r["method"], 9), -(r["steps"] or 0)))
    cols = COLUMNS[suite]
    lines = [
        "| generator | steps | " + " | ".join(c[1] for c in cols) + " | teacher | seeds × samples |",
        "|---|---|" + "---|" * len(cols) + "---|---|",
    ]
    current = shipped_teacher(rows[0]["task"]) if rows else None
    for r in rows:
        teacher, _ = row_teacher(r)
        stale = " †" if teacher and current and teacher != current else ""
        n_seeds = len(next(iter(r["metrics"].values())).get("values", [0]))
        lines.append(
            f"| {NAMES.get(r['method'], r['method'])}{stale} | {r['steps']} | "
            + " | ".join(_cell(r, m, d) for m, _, d in cols)
            + f" | {(teacher or '?')[:8]} | {n_seeds} × {(r.get('eval') or {}).get('n', '?')} |"
        )
    return "\n".join(lines)


def render_readme(text: str, root=None) -> str:
    def sub(m: re.Match) -> str:
        suite = m.group(1)
        return f"<!-- results:{suite} -->\n{render_suite(suite, root)}\n<!-- /results:{suite} -->"

    return re.sub(r"<!-- results:([a-z0-9-]+) -->.*?<!-- /results:\1 -->", sub, text, flags=re.S)


def register(app) -> None:
    import typer

    @app.command("readme")
    def readme_cmd(
        check: bool = typer.Option(False, help="exit 1 if the README's tables differ from the leaderboard"),
        path: Path = typer.Option(README, help="the README to render into"),
    ):
        """Render the README's results tables from the leaderboard rows (no number typed by hand)."""
        from harness.errors import HarnessError
        from harness.io import atomic_write

        if not path.exists():
            raise HarnessError(f"{path} not found; pass --path README.md")
        text = path.read_text()
        new = render_readme(text)
        if check:
            if new != text:
                typer.echo(f"{path}: results tables differ from the leaderboard; run `harness readme`", err=True)
                raise typer.Exit(1)
            typer.echo(f"{path}: results tables match the leaderboard")
            return
        atomic_write(path, lambda p: Path(p).write_text(new))
        typer.echo(f"rendered {len(re.findall(r'<!-- results:', new))} table(s) into {path}")
