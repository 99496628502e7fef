import typer
from typer.testing import CliRunner

from harness.leaderboard_cli import register
from leaderboards.store import append_row


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_table_latex_and_all(monkeypatch):
    monkeypatch.delenv("FPD_LEADERBOARD_DIR", raising=False)
    r = CliRunner().invoke(_app(), ["table", "--table", "2", "--format", "latex"])
    assert r.exit_code == 0, r.output
    assert "91.35" in r.output and r"\textbf" in r.output
    r = CliRunner().invoke(_app(), ["table"])
    assert r.exit_code == 0 and all(f"**Table {n}.**" in r.output for n in (1, 2, 3, 4))


def test_table_errors_exit_nonzero():
    r = CliRunner().invoke(_app(), ["table", "--table", "7"])
    assert r.exit_code == 1 and "unknown table 7" in r.output
    r = CliRunner().invoke(_app(), ["table", "--suite", "shapes_fid"])
    assert r.exit_code == 1 and "did you mean 'shapes-fid'" in r.output


def test_leaderboard_show_freeze_diff(root, measured):
    app = _app()
    append_row("shapes-fid", measured(method="a"))
    r = CliRunner().invoke(app, ["leaderboard", "freeze", "shapes-fid"])
    assert r.exit_code == 0 and "shapes-fid@v1.jsonl" in r.output
    append_row("shapes-fid", measured(method="a", protocol="shapes-fid@2"))
    r = CliRunner().invoke(app, ["leaderboard", "diff", "shapes-fid@v1", "shapes-fid"])
    assert r.exit_code == 0 and "PROTOCOL shapes-fid@1 -> shapes-fid@2" in r.output
    r = CliRunner().invoke(app, ["leaderboard", "show", "shapes-fid"])
    assert r.exit_code == 0 and "1 row(s)" in r.output and "fid=12.13" in r.output
    r = CliRunner().invoke(app, ["leaderboard", "show", "shapes-fid", "--all"])
    assert "2 row(s)" in r.output
    r = CliRunner().invoke(app, ["leaderboard", "freeze", "imagenet"])
    assert r.exit_code == 1 and "did you mean 'imagenet256'" in r.output
