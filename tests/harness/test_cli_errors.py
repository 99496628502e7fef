"""Bad input through the CLI: a non-zero exit, one line naming the fix, no traceback, nothing lost."""

import json
import os

import pytest

from harness import cli  # noqa: F401
from helpers import run_cli


def assert_one_line_error(code, err, *needles):
    assert code not in (0, None), err
    lines = [l for l in err.strip().splitlines() if l.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.mark.parametrize(
    "args,needles",
    [
        (["eval", "--method", "fdp", "--suite", "shapes-fid"], ["unknown method 'fdp'", "did you mean 'fpd'"]),
        (["eval", "--method", "fpd", "--suite", "shapes-fi"], ["unknown suite", "did you mean 'shapes-fid'"]),
        (["sample", "--method", "teacher", "--task", "shapez"], ["unknown task", "did you mean 'shapes'"]),
        (["train", "teachr"], ["unknown trainer", "did you mean 'teacher'"]),
        (["eval", "--method", "teacher", "--suite", "shapes-fid", "--steps", "0"], ["--steps must be >= 1"]),
        (["eval", "--method", "teacher", "--suite", "shapes-fid", "--steps", "16,x"], ["--steps"]),
        (["train", "teacher", "--steps", "-3"], ["--steps must be >= 1"]),
        (["train", "teacher", "--stop-at", "0"], ["--stop-at must be >= 1"]),
        (["sample", "--steps", "0"], ["--steps must be >= 1"]),
        (["eval", "--method", "teacher", "--suite", "shapes-fid", "--seeds", "-5-3"], ["--seeds"]),
        (["eval", "--method", "teacher", "--suite", "shapes-fid", "--seeds", "9-3"], ["--seeds"]),
        (["eval", "--method", "teacher", "--suite", "shapes-fid", "--batch", "0"], ["--batch"]),
        (["train", "teacher", "--set", "lr"], ["key=value"]),
        (["train", "teacher", "--set", "lrr=1"], ["unknown config key 'lrr'", "did you mean 'lr'"]),
        (["train", "teacher", "--set", "steps=many"], ["cannot parse"]),
        (["train", "fpd", "--ship"], ["--ship applies to"]),
        (
            ["train", "teacher", "--task", "shapes-t2i", "--set", "tag_mix=colr_attr:2"],
            ["unknown tag 'colr_attr'", "color_attr"],
        ),
        (
            ["train", "teacher", "--task", "shapes-t2i", "--set", "tag_mix=color_attr=2"],
            ["unknown tag", "color_attr:2"],
        ),
        (["train", "teacher", "--task", "shapes", "--set", "tag_mix=counting:2"], ["--task shapes-t2i"]),
        (["sample", "--rows", "0"], ["--rows"]),
        (
            ["eval", "--method", "fpd", "--suite", "shapes-fid", "--checkpoint", "/nonexistent/student"],
            ["no fpd checkpoint", "harness train fpd"],
        ),
        (["table", "--table", "7"], ["table"]),
    ],
)
def test_bad_inputs(args, needles, capsys):
    code, _, err = run_cli(args, capsys)
    assert_one_line_error(code, err, *needles)


def test_corrupt_checkpoint_is_refused(tmp_path, capsys):
    from harness.io import save_weights
    import torch

    ck = tmp_path / "student"
    save_weights(ck, {"w": torch.zeros(3)}, {"method": "fpd", "train": {}})
    data = bytearray((tmp_path / "student.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "student.safetensors").write_bytes(bytes(data))
    code, _, err = run_cli(["eval", "--method", "fpd", "--suite", "shapes-fid", "--checkpoint", ck], capsys)
    assert_one_line_error(code, err, "corrupt", "sha256")


def test_run_folder_as_checkpoint(tmp_path, capsys):
    """--checkpoint RUN takes the student the run exported (here corrupt, so the error proves which file was read);
    a folder with several students or none is a one-line error naming them."""
    from harness.io import save_weights
    import torch

    run = tmp_path / "run"
    save_weights(run / "student", {"w": torch.zeros(3)}, {"method": "fpd", "train": {}})
    data = bytearray((run / "student.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (run / "student.safetensors").write_bytes(bytes(data))
    args = ["eval", "--method", "sdtt", "--suite", "shapes-fid", "--checkpoint"]
    code, _, err = run_cli(args + [run], capsys)
    assert_one_line_error(code, err, "corrupt", "student.safetensors")
    sdtt = tmp_path / "sdtt"
    for name in ("student_2step", "student_1step"):
        save_weights(sdtt / name, {"w": torch.zeros(3)}, {"method": "sdtt", "train": {}})
    code, _, err = run_cli(args + [sdtt], capsys)
    assert_one_line_error(code, err, "student_1step.safetensors, student_2step.safetensors", "--checkpoint")
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(args + [tmp_path / "empty"], capsys)
    assert_one_line_error(code, err, "no exported student")


def test_unwritable_output_folder(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o500)
    if os.access(ro, os.W_OK):  # running as root: emulate with a path under a file
        (tmp_path / "afile").write_text("x")
        target = tmp_path / "afile" / "grid.png"
    else:
        target = ro / "grid.png"
    code, _, err = run_cli(["sample", "--steps", "1", "--rows", "1", "--cols", "1", "--out", target], capsys)
    assert_one_line_error(code, err, "cannot write")


def test_run_folder_with_other_config_is_refused_and_kept(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"task": "shapes", "lr": 123.0}))
    code, _, err = run_cli(["train", "classifier", "--out", run, "--steps", "1"], capsys)
    assert_one_line_error(code, err, "different config")
    assert json.loads((run / "config.json").read_text())["lr"] == 123.0  # nothing overwritten


def test_malformed_leaderboard_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FPD_LEADERBOARD_DIR", str(tmp_path))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "shapes-fid.jsonl").write_text('{"not": "a row"}\n{broken\n')
    before = (tmp_path / "data" / "shapes-fid.jsonl").read_text()
    code, _, err = run_cli(["leaderboard", "show", "shapes-fid"], capsys)
    assert code not in (0, None) and "shapes-fid.jsonl:1" in err
    assert (tmp_path / "data" / "shapes-fid.jsonl").read_text() == before


def test_malformed_geneval_metadata(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "evaluation_metadata.jsonl"
    bad.write_text(
        '{"tag": "single_object", "include": [{"class": "bench", "count": 1}], "prompt": "a photo of a bench"}\n'
        '{"tag": "single_object", "include": [\n'
    )
    monkeypatch.setenv("FPD_GENEVAL_METADATA", str(bad))
    code, _, err = run_cli(["eval", "--method", "teacher", "--suite", "geneval", "--steps", "16"], capsys)
    assert_one_line_error(code, err, ":2")


def test_missing_geneval_metadata(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FPD_GENEVAL_METADATA", str(tmp_path / "nope.jsonl"))
    code, _, err = run_cli(["eval", "--method", "teacher", "--suite", "geneval"], capsys)
    assert_one_line_error(code, err, "not found", "evaluation_metadata.jsonl")


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, capsys, monkeypatch):
    from harness.io import sha256_file

    monkeypatch.setenv("FPD_CKPT_EVERY", "1")
    run = tmp_path / "run"
    code, _, err = run_cli(
        [
            "train",
            "classifier",
            "--out",
            run,
            "--steps",
            "50",
            "--set",
            "n_train=64",
            "--set",
            "n_heldout=24",
            "--set",
            "lr=1e30",
        ],
        capsys,
    )
    assert_one_line_error(code, err, "non-finite", "last good checkpoint")
    latest = json.loads((run / "latest.json").read_text())
    ck = run / "checkpoints" / latest["checkpoint"]
    meta = json.loads((ck / "meta.json").read_text())
    assert all(sha256_file(ck / f) == h for f, h in meta["sha256"].items())  # intact and loadable


def test_geneval_metadata_option_named_in_help_and_error(tmp_path, monkeypatch):
    from helpers import run_console

    monkeypatch.delenv("FPD_GENEVAL_METADATA", raising=False)
    code, out, _ = run_console(["eval", "--help"])
    assert code == 0 and "--metadata" in out
    code, _, err = run_console(
        ["eval", "--method", "teacher", "--suite", "geneval", "--metadata", tmp_path / "nope.jsonl"],
        env={"FPD_GENEVAL_METADATA": ""},
    )
    assert_one_line_error(code, err, "not found", "nope.jsonl")
    code, _, err = run_console(["eval", "--method", "teacher", "--suite", "geneval"], env={"FPD_GENEVAL_METADATA": ""})
    assert_one_line_error(code, err, "--metadata")
