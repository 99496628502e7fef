"""A run extended with a larger --steps records every command in order, so its asset can be regenerated."""

import sys

import torch

from harness.assets import regenerate_chain
from harness.train_loop import TrainLoop


def _run(tmp_path, steps, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["harness", "train", "teacher", "--steps", str(steps)])
    m = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    loop = TrainLoop(tmp_path, {"lr": 0.1, "steps": steps}, {"model": m}, {"opt": opt}, steps, ckpt_every=2)
    loop.run(lambda i: {"loss": float(i)})
    return loop


def test_extended_run_records_its_commands(tmp_path, monkeypatch):
    _run(tmp_path, 4, monkeypatch)
    assert regenerate_chain(TrainLoop.segments(_run(tmp_path, 4, monkeypatch))) is None  # finished: nothing re-run
    loop = _run(tmp_path, 6, monkeypatch)
    segs = loop.segments()
    assert [(s["from_step"], s["steps"]) for s in segs] == [(0, 4), (4, 6)]
    assert regenerate_chain(segs) == "harness train teacher --steps 4 && harness train teacher --steps 6"


def test_crash_resume_of_the_same_command_is_one_segment(tmp_path, monkeypatch):
    _run(tmp_path, 2, monkeypatch)  # stands in for a run killed after its checkpoint at step 2 of 6
    (tmp_path / "segments.jsonl").write_text(
        '{"from_step": 0, "steps": 6, "command": "harness train teacher --steps 6"}\n'
    )
    loop = _run(tmp_path, 6, monkeypatch)
    assert [(s["from_step"], s["steps"]) for s in loop.segments()] == [(0, 6)]
    assert regenerate_chain(loop.segments()) is None


def test_chain_of_a_copied_run_trains_one_folder():
    """A run copied under another name and extended there is one run: the chain trains into the last --out."""
    segs = [
        {"from_step": 0, "steps": 3, "command": "harness train teacher --steps 3 --out runs/a"},
        {"from_step": 3, "steps": 5, "command": "harness train teacher --steps 5 --out runs/b --set compile=true"},
    ]
    assert regenerate_chain(segs) == (
        "harness train teacher --steps 3 --out runs/b && "
        "harness train teacher --steps 5 --out runs/b --set compile=true"
    )


def test_rerun_of_a_finished_run_reports_its_logged_figures(tmp_path, monkeypatch):
    """Re-running a finished run (to --ship it) trains nothing; the shipped figures come from its log."""
    _run(tmp_path, 4, monkeypatch)
    stats = _run(tmp_path, 4, monkeypatch).run(lambda i: {"loss": float(i)})
    assert stats["steps_run"] == 0 and stats["last"]["loss"] == 3.0 and stats["sec_per_step"] is not None


def test_warm_start_from_the_shipped_teacher_and_its_chain(tmp_path, monkeypatch):
    """`--set init=shipped`: the run starts from the shipped weights, and the asset it ships is regenerated
    by the shipped teacher's own chain first (a run folder does not outlive a session here)."""
    import pytest

    from harness import assets
    from harness.errors import HarnessError
    from harness.networks.shapes_transformer import ShapesMaskTransformer
    from harness.trainers import teacher as T
    from harness.trainers.tokenizer import load_shipped as load_tokenizer

    tok = load_tokenizer()
    shipped, meta = assets.load_asset("teacher_shapes_t2i")
    depth = meta["config"]["model"]["depth"]
    cfg = T.TeacherTrainConfig(task="shapes-t2i", depth=depth, init="shipped")
    model = ShapesMaskTransformer(T.model_config(cfg, tok))
    prov = T.load_init(cfg, model, tok)
    assert all(torch.equal(v, shipped[k]) for k, v in model.state_dict().items())
    assert prov["sha256"] == meta["sha256"] and prov["regenerate"] == meta["regenerate"]
    narrow = ShapesMaskTransformer(T.model_config(T.TeacherTrainConfig(task="shapes-t2i", width=64, depth=depth), tok))
    with pytest.raises(HarnessError, match="width"):
        T.load_init(T.TeacherTrainConfig(task="shapes-t2i", width=64, depth=depth, init="shipped"), narrow, tok)

    monkeypatch.setattr(assets, "ASSET_DIR", tmp_path)
    monkeypatch.setattr(sys, "argv", ["harness", "train", "teacher", "--steps", "5", "--set", "init=shipped", "--ship"])
    path = assets.ship("teacher_shapes_t2i", {"w": torch.zeros(2)}, {}, {"init": prov}, after="harness A --ship")
    _, meta = assets.load_weights(path)
    assert meta["regenerate"] == "harness A --ship && harness train teacher --steps 5 --set init=shipped --ship"


def test_warm_start_into_a_deeper_network_keeps_the_function():
    """`--set init=shipped --set depth=6` from a depth-4 teacher: same logits at the start (new blocks are
    identities), new blocks initialised independently, and a shallower target is refused."""
    import pytest

    from harness.errors import HarnessError
    from harness.networks.shapes_transformer import ShapesMaskTransformer
    from harness.trainers import teacher as T
    from harness.trainers.tokenizer import load_shipped as load_tokenizer

    tok = load_tokenizer()
    src = T.load_shipped("shapes-t2i")
    depth = len(src.blocks.layers)
    cfg = T.TeacherTrainConfig(task="shapes-t2i", depth=depth + 2, init="shipped")
    deep = ShapesMaskTransformer(T.model_config(cfg, tok))
    prov = T.load_init(cfg, deep, tok)
    assert prov["grown"].startswith(f"depth {depth} -> {depth + 2}")
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, tok.codebook_size + 1, (3, tok.num_tokens), generator=g)
    cond = torch.randint(1, 28, (3, 12), generator=g)
    with torch.no_grad():
        assert torch.allclose(deep.eval()(tokens, cond), src(tokens, cond), atol=1e-5)
    a, b = (deep.blocks.layers[i].linear1.weight for i in (depth, depth + 1))
    assert not torch.equal(a, b) and deep.blocks.layers[depth].linear2.weight.abs().sum() == 0
    shallow = ShapesMaskTransformer(T.model_config(T.TeacherTrainConfig(task="shapes-t2i", depth=depth - 1), tok))
    with pytest.raises(HarnessError, match="depth"):
        T.load_init(T.TeacherTrainConfig(task="shapes-t2i", depth=depth - 1, init="shipped"), shallow, tok)


def test_stop_at_trains_a_piece_and_an_interrupted_segment_replays_up_to_its_successor(tmp_path, monkeypatch):
    monkeypatch.setenv("FPD_STOP_AT", "3")
    loop = _run(tmp_path, 6, monkeypatch)
    assert loop.stop_at == 3 and (tmp_path / "latest.json").exists()
    monkeypatch.delenv("FPD_STOP_AT")
    assert _run(tmp_path, 6, monkeypatch).start_step == 3
    # the 6-step schedule was left at step 3 for a 9-step one: the chain replays it only that far
    segs = [
        {"from_step": 0, "steps": 6, "command": "harness train teacher --steps 6"},
        {"from_step": 3, "steps": 9, "command": "harness train teacher --steps 9"},
    ]
    assert regenerate_chain(segs) == "harness train teacher --steps 6 --stop-at 3 && harness train teacher --steps 9"


def test_stop_at_through_the_console_script(tmp_path):
    """`harness train ... --stop-at 2` stops at step 2 with a checkpoint; the same command without it continues."""
    import json

    from helpers import run_console

    run = tmp_path / "run"
    args = ["train", "classifier", "--out", run, "--steps", "4", "--set", "n_train=64", "--set", "n_heldout=24"]
    code, _, err = run_console(args + ["--stop-at", "2"])
    assert code == 0, err
    assert json.loads((run / "latest.json").read_text())["step"] == 2
    code, _, err = run_console(args)
    assert code == 0, err
    assert json.loads((run / "latest.json").read_text())["step"] == 4


def test_teacher_ema_is_what_a_run_folder_scores(tmp_path):
    """`--set ema=D`: the run keeps an EMA copy (DiMO's warm-up rate min(D, (1+i)/(10+i))), checkpoints it, and
    load_run (what `sweep teacher --checkpoint RUN` scores and --ship ships) reads the EMA, not the raw weights."""
    import json

    from helpers import run_console
    from safetensors.torch import load_file

    from harness.trainers import teacher as T
    from harness.trainers.tokenizer import load_shipped as load_tokenizer

    small = [
        "--task",
        "shapes-t2i",
        "--set",
        "n_train=64",
        "--set",
        "batch=4",
        "--set",
        "width=32",
        "--set",
        "depth=1",
        "--set",
        "heads=2",
        "--set",
        "warmup=1",
    ]
    code, _, err = run_console(["train", "teacher", "--steps", "1", "--out", tmp_path / "a"] + small)
    assert code == 0, err
    code, _, err = run_console(
        [
            "train",
            "teacher",
            "--steps",
            "1",
            "--out",
            tmp_path / "b",
            "--set",
            "ema=0.5",
            "--set",
            f"init={tmp_path / 'a'}",
        ]
        + small
    )
    assert code == 0, err
    ck = tmp_path / "b" / "checkpoints" / json.loads((tmp_path / "b" / "latest.json").read_text())["checkpoint"]
    start = load_file(tmp_path / "a" / "checkpoints" / "step_0000001" / "model.safetensors")
    raw, ema = load_file(ck / "model.safetensors"), load_file(ck / "ema.safetensors")
    # step 0's rate is min(0.5, 1/10) = 0.1: ema = 0.1·start + 0.9·raw
    assert all(torch.allclose(ema[k], 0.1 * start[k] + 0.9 * raw[k], atol=1e-6) for k in raw)
    assert any(not torch.equal(ema[k], raw[k]) for k in raw)
    net, ident = T.load_run("shapes-t2i", tmp_path / "b", load_tokenizer())
    assert all(torch.equal(v, ema[k]) for k, v in net.state_dict().items())
    assert ident["sha256"] == json.loads((ck / "meta.json").read_text())["sha256"]["ema.safetensors"]
    net, ident = T.load_run("shapes-t2i", ck / "model.safetensors", load_tokenizer())  # the raw weights, as a control
    assert all(torch.equal(v, raw[k]) for k, v in net.state_dict().items()) and ident["step"] == 1
    assert ident["weights"] == "model.safetensors"
    code, _, err = run_console(
        ["train", "teacher", "--steps", "1", "--out", tmp_path / "c", "--set", "ema=1.5"] + small
    )
    assert code == 2 and "ema is a decay" in err and "Traceback" not in err
