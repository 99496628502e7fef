"""The README's results tables are the leaderboard's rows (rendered by `harness readme`, never typed)."""

from pathlib import Path

from harness.readme import render_readme
from helpers import run_console

ROOT = Path(__file__).resolve().parents[2]


def test_readme_matches_leaderboard():
    code, out, err = run_console(["readme", "--check", "--path", ROOT / "README.md"], cwd=ROOT)
    assert code == 0, err + "\nrun `harness readme` after appending rows"


def test_render_fills_marked_sections_only():
    text = "intro\n<!-- results:shapes-geneval -->\nstale\n<!-- /results:shapes-geneval -->\noutro\n"
    out = render_readme(text)
    assert out.startswith("intro\n<!-- results:shapes-geneval -->\n| generator | steps | overall") and out.endswith(
        "outro\n"
    )
    assert "stale" not in out
