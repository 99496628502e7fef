"""`harness figure grid|quality`: PNGs from tiny random networks and a temp leaderboard; one-line errors."""

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from harness import figures
from helpers import run_cli
from leaderboards.store import append_row, measured_row

PROV = {
    "git_commit": "abc",
    "config_hash": "0" * 16,
    "checkpoint_sha256": None,
    "packages": {"torch": "2.x"},
    "hardware": "cpu",
    "wall_time_s": 1.0,
    "date": "2026-01-01T00:00:00+00:00",
}


def _row(method, steps, fid, suite="shapes-fid", variant=""):
    metric = "fid" if suite == "shapes-fid" else "overall"
    return measured_row(
        suite,
        method,
        steps,
        {metric: fid},
        label=f"{method} {steps}",
        provenance=PROV,
        variant=variant,
        ablation=bool(variant),
    )


@pytest.fixture
def board(tmp_path, monkeypatch):
    monkeypatch.setenv("FPD_LEADERBOARD_DIR", str(tmp_path / "lb"))
    return tmp_path / "lb"


@pytest.fixture
def tiny_generators(tiny_nets, monkeypatch):
    """figures._build returns tiny random teacher samplers / one-step students (no shipped assets)."""
    from methods.fpd import OneStepStudent
    from methods.teacher_sampler import TeacherSampler, TeacherSamplerConfig

    teacher, tok = tiny_nets
    built = []

    def build(method, task, steps, checkpoint):
        built.append((method, steps, checkpoint))
        if method == "teacher":
            return TeacherSampler(teacher, tok, TeacherSamplerConfig(steps=steps, w=1.0))
        return OneStepStudent(teacher, tok)

    monkeypatch.setattr(figures, "_build", build)
    return built


def _png(path: Path) -> tuple[int, int]:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as im:
        return im.size


def test_grid_cli_teacher_steps_and_existing_students(tmp_path, monkeypatch, tiny_generators, capsys):
    monkeypatch.chdir(tmp_path)
    ck = tmp_path / "runs" / "fpd-shapes" / "student.safetensors"
    ck.parent.mkdir(parents=True)
    ck.write_bytes(b"x")  # only its existence matters: _build is stubbed
    out = tmp_path / "g.png"
    code, stdout, err = run_cli(
        ["figure", "grid", "--task", "shapes", "--teacher-steps", "4,1", "--rows", "3", "--cols", "2", "--out", out],
        capsys,
    )
    assert code == 0, err
    assert [(m, s) for m, s, _ in tiny_generators] == [("teacher", 4), ("teacher", 1), ("fpd", 1)]
    assert "skipping dimo" in stdout and "skipping sdtt" in stdout and "harness train sdtt" in stdout
    w, h = _png(out)
    assert w > h > 0
    assert not list(tmp_path.glob(".g.png.*"))  # atomic write leaves no temp file


def test_grid_same_conditions_and_seeds_per_panel(tiny_nets, tmp_path):
    """Two identical generators give identical blocks: the panels share conditions and seeds."""
    from methods.fpd import OneStepStudent

    teacher, tok = tiny_nets
    gen = OneStepStudent(teacher, tok)
    calls = []
    orig = gen.generate

    def spy(cond, seeds):
        calls.append((cond.clone(), list(seeds)))
        return orig(cond, seeds)

    gen.generate = spy
    figures.grid_figure([("a", gen), ("b", gen)], "shapes", tmp_path / "g.png", rows=2, cols=3)
    assert len(calls) == 2 and torch.equal(calls[0][0], calls[1][0]) and calls[0][1] == calls[1][1] == [0, 1, 2] * 2


def test_quality_figure_with_latency(board, tmp_path):
    for s, f in [(16, [10.0, 11.0, 9.5]), (8, [12.0]), (4, [20.0]), (1, [90.0])]:
        append_row("shapes-fid", _row("teacher", s, f))
    append_row("shapes-fid", _row("fpd", 1, [15.0, 16.0, 14.0]))
    append_row("shapes-fid", _row("fpd", 1, [3.0], variant="soft"))  # ablations stay out of this figure
    append_row("shapes-fid", _row("fpd", 1, [14.0, 15.0, 13.0]))  # a re-run supersedes the first row
    res = tmp_path / "runs" / "eval" / "shapes-fid" / "fpd-1step" / "results.json"
    res.parent.mkdir(parents=True)
    res.write_text(
        json.dumps(
            {
                "suite": "shapes-fid",
                "method": "fpd",
                "variant": "",
                "steps": 1,
                "wall_time_s": 2.0,
                "sampling": {"generated": 100, "skipped": 0},
            }
        )
    )
    path, info = figures.quality_figure(
        "shapes-fid", tmp_path / "q.png", runs=tmp_path / "runs", bench_dir=tmp_path / "none"
    )
    w, h = _png(path)
    assert w > h
    assert info["metric"] == "fid" and info["latency_source"].startswith("eval")
    fpd = info["series"]["fpd"]
    assert len(fpd) == 1 and fpd[0]["value"] == pytest.approx(14.0) and fpd[0]["latency_ms"] == pytest.approx(20.0)
    assert [p["steps"] for p in info["series"]["teacher"]] == [16, 8, 4, 1]


def test_quality_latency_from_benchmark_lines(board, tmp_path):
    append_row("shapes-geneval", _row("teacher", 16, [0.8], suite="shapes-geneval"))
    append_row("shapes-geneval", _row("fpd", 1, [0.7], suite="shapes-geneval"))
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "sampling.jsonl").write_text(
        json.dumps({"teacher": {"steps": 16, "ms_per_image": 40.0}, "student": {"steps": 1, "ms_per_image": 2.0}})
        + "\n"
    )
    _, info = figures.quality_figure("shapes-geneval", tmp_path / "q.png", runs=tmp_path / "none", bench_dir=bench)
    assert info["metric"] == "overall" and info["latency_source"].startswith("generation")
    assert info["series"]["teacher"][0]["latency_ms"] == 40.0


def test_quality_cli_writes_png(board, tmp_path, capsys):
    append_row("shapes-fid", _row("teacher", 16, [10.0]))
    code, out, err = run_cli(
        ["figure", "quality", "--suite", "shapes-fid", "--out", tmp_path / "q.png", "--runs", tmp_path], capsys
    )
    assert code == 0, err
    assert "wrote" in out
    _png(tmp_path / "q.png")


@pytest.mark.parametrize(
    "args,needles",
    [
        (
            ["figure", "quality", "--suite", "shapes-fid"],
            ["no measured rows", "harness eval --method teacher --suite shapes-fid"],
        ),
        (["figure", "quality", "--suite", "shapes-fi"], ["unknown suite", "shapes-fid"]),
        (["figure", "grid", "--task", "shapez"], ["unknown task", "did you mean 'shapes'"]),
        (["figure", "grid", "--teacher-steps", "16,0"], ["--teacher-steps"]),
        (["figure", "grid", "--methods", "fpd,gan"], ["unknown one-step method 'gan'"]),
    ],
)
def test_figure_errors_are_one_line(board, tmp_path, args, needles, capsys):
    code, _, err = run_cli([*args, "--out", tmp_path / "x.png"], capsys)
    lines = [l for l in err.strip().splitlines() if l.strip()]
    assert code not in (0, None) and len(lines) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in lines[0], lines[0]
    assert not (tmp_path / "x.png").exists()


def test_quality_unknown_metric(board, tmp_path, capsys):
    append_row("shapes-fid", _row("teacher", 16, [10.0]))
    code, _, err = run_cli(
        ["figure", "quality", "--suite", "shapes-fid", "--metric", "overall", "--out", tmp_path / "q.png"], capsys
    )
    assert code == 2 and "choose one of: fid" in err


def test_grid_cli_students_from_a_reproduce_run(tmp_path, monkeypatch, tiny_generators, capsys):
    """Fig. 3's columns (the tiny nets are class-conditional, so task shapes): teacher 16/4/1 and FPD soft / STE /
    STE+GAN of one seed of a reproduce folder."""
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "rep"
    for folder in ("fpd-shapes-soft-seed1", "fpd-shapes-seed1", "fpd-shapes-ste+gan-seed0"):
        (run / folder).mkdir(parents=True)
        (run / folder / "student.safetensors").write_bytes(b"x")
    code, stdout, err = run_cli(
        [
            "figure",
            "grid",
            "--task",
            "shapes",
            "--teacher-steps",
            "16,4,1",
            "--run",
            run,
            "--seed",
            "1",
            "--methods",
            "fpd:soft,fpd:ste,fpd:ste+gan",
            "--rows",
            "2",
            "--cols",
            "2",
            "--out",
            tmp_path / "f3.png",
        ],
        capsys,
    )
    assert code == 0, err
    assert [(m, s, c) for m, s, c in tiny_generators] == [
        ("teacher", 16, None),
        ("teacher", 4, None),
        ("teacher", 1, None),
        ("fpd", 1, run / "fpd-shapes-soft-seed1" / "student"),
        ("fpd", 1, run / "fpd-shapes-seed1" / "student"),
    ]
    assert "skipping fpd:ste+gan" in stdout and "fpd-shapes-ste+gan-seed1" in stdout  # seed 0's run is not seed 1's
    _png(tmp_path / "f3.png")


@pytest.mark.parametrize(
    "args, msg",
    [
        (["--methods", "fpd:soft"], "add --run"),
        (["--methods", "fpd:sofft", "--run", "."], "unknown variant 'fpd:sofft'"),
        (["--methods", "dimo:soft", "--run", "."], "unknown variant"),
        (["--methods", "fdp"], "unknown one-step method 'fdp'"),
        (["--run", "nowhere"], "no such folder"),
    ],
)
def test_grid_cli_bad_students_one_line(tmp_path, monkeypatch, tiny_generators, capsys, args, msg):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["figure", "grid", "--task", "shapes-t2i", *args], capsys)
    assert code != 0 and msg in err and "Traceback" not in err
    assert tiny_generators == []  # nothing was built before the error
