"""Task presets, `harness doctor` on an empty folder and on a random-weight fixture folder, the benchmark smoke run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from harness.doctor import doctor, register
from harness.errors import HarnessError
from harness.networks.fixtures import write_fixtures
from harness.presets import ENV_WEIGHTS_DIR, get_preset, resolve_weights_dir


def test_presets_carry_the_paper_hyperparameters():
    im, t2i = get_preset("imagenet"), get_preset("t2i")
    assert (im.batch_size, t2i.batch_size) == (32, 64)  # paper §4
    for p in (im, t2i):
        assert p.lr == 1e-5 and p.optimizer == "adamw" and p.r_init == 0.95
        assert p.bandwidths == (0.02, 0.05, 0.2) and p.feature_blocks == (2, 5, 8, 11) and p.feature_grid == 4
    assert (im.num_tokens, im.codebook_size, t2i.num_tokens, t2i.codebook_size) == (256, 1024, 128, 8192)
    assert t2i.teacher_sampler.guidance == 12.0 and t2i.teacher_sampler.guidance_ramp == "cosine"
    with pytest.raises(HarnessError, match="unknown task"):
        get_preset("cifar")


def test_weights_dir_argument_then_env(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_WEIGHTS_DIR, str(tmp_path / "env"))
    assert resolve_weights_dir(None) == tmp_path / "env"
    assert resolve_weights_dir(tmp_path / "arg") == tmp_path / "arg"
    assert get_preset("imagenet").path("vqgan", tmp_path / "arg") == tmp_path / "arg/maskgit/VQGAN/last.ckpt"


@pytest.mark.parametrize("task", ["imagenet", "t2i"])
def test_doctor_lists_every_required_file_as_missing(task, tmp_path, monkeypatch):
    monkeypatch.setattr("harness.presets.hf_cache_path", lambda w: None)  # only the given folder counts
    ok, lines = doctor(task, tmp_path)
    assert not ok
    for w in get_preset(task).weights:
        line = next(l for l in lines if w.relpath in l)
        assert ("[MISSING]" if not w.optional else "[absent ]") in line and w.source in line


def test_doctor_passes_on_a_fixture_folder_and_the_cli_exit_codes(tmp_path, monkeypatch):
    monkeypatch.setattr("harness.presets.hf_cache_path", lambda w: None)
    empty, full = tmp_path / "empty", tmp_path / "weights"
    empty.mkdir()
    write_fixtures("imagenet", full, reduced=True)
    ok, lines = doctor("imagenet", full)
    assert ok, "\n".join(lines)
    assert all("sha256 " in l for l in lines if l.startswith("[ok"))
    app = typer.Typer()
    register(app)

    @app.command("version")  # a second command keeps typer in multi-command mode, as in the harness CLI
    def _version() -> None:
        pass

    runner = CliRunner()
    bad = runner.invoke(app, ["doctor", "--task", "imagenet", "--weights-dir", str(empty)])
    assert bad.exit_code == 1 and "[MISSING] maskgit/MaskGIT_ImageNet_256.pth" in bad.output
    good = runner.invoke(app, ["doctor", "--task", "imagenet", "--weights-dir", str(full)])
    assert good.exit_code == 0 and "all required files present" in good.output
    assert runner.invoke(app, ["doctor", "--task", "nope", "--weights-dir", str(full)]).exit_code == 2
    # the fixture files load through the strict loaders, their shapes read from the files themselves
    from harness.networks.checkpoints import load_task_networks
    from harness.networks.fixtures import reduced_config
    from harness.networks.maskgit_v1 import MaskGITConfig
    from methods.interfaces import FeatureBackbone, Tokenizer, TokenModel

    nets = load_task_networks("imagenet", full)
    assert nets["teacher"].cfg == reduced_config("maskgit_transformer")
    assert nets["tokenizer"].cfg == reduced_config("vqgan")
    assert isinstance(nets["teacher"], TokenModel) and isinstance(nets["tokenizer"], Tokenizer)
    assert isinstance(nets["backbone"], FeatureBackbone) and nets["backbone"].cfg.blocks == (2, 5, 8, 11)
    with pytest.raises(HarnessError, match="does not match the model"):  # an explicit paper-scale config refuses them
        load_task_networks("imagenet", full, configs={"maskgit_transformer": MaskGITConfig()})


def test_benchmark_tiny_cpu_run_prints_one_json_line(capsys, tmp_path):
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_paper_scale.py"
    spec = importlib.util.spec_from_file_location("bench_paper_scale", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(["--small", "--depth", "1", "--modes", "student", "--cpu", "--in-process", f"--out-dir={tmp_path}"])
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    rec = json.loads(out[0])["modes"]["student"]
    assert rec["flops_per_step"] > 1e9 and rec["step_time_s"] > 0
    assert {"peak_memory_mb", "images_per_s", "achieved_tflops"} <= set(rec)


def test_t2i_fixture_folder_loads_end_to_end_with_narrow_networks(tmp_path, monkeypatch):
    """The t2i path (MaskGen + TA-TiTok + CLIP + DINOv3) from a fixture folder, with narrow stand-ins."""
    import torch

    from harness.networks import fixtures as fx
    from harness.networks.checkpoints import load_task_networks
    from harness.networks.maskgen import (
        ClipTextConfig,
        ClipTextEncoder,
        MaskGenConfig,
        MaskGenVQ,
        TATiTok,
        TATiTokConfig,
    )

    cfgs = {
        "maskgen": MaskGenConfig(embed_dim=64, depth=2, heads=4, text_embed_dim=64),
        "tatitok": TATiTokConfig(enc_size="small", dec_size="small", enc_layers=1, dec_layers=1, text_embed_dim=64),
        "clip_text": ClipTextConfig(embed_dim=64, width=64, heads=2, layers=2),
    }
    torch.manual_seed(0)
    monkeypatch.setattr(fx, "build_maskgen", lambda *a, **k: MaskGenVQ(cfgs["maskgen"]))
    monkeypatch.setattr(fx, "build_tatitok", lambda *a, **k: TATiTok(cfgs["tatitok"]))
    monkeypatch.setattr(fx, "build_clip_text", lambda *a, **k: ClipTextEncoder(cfgs["clip_text"]))
    monkeypatch.setattr("harness.presets.hf_cache_path", lambda w: None)
    write_fixtures("t2i", tmp_path, reduced=True)
    ok, lines = doctor("t2i", tmp_path)
    assert ok, "\n".join(lines)
    # a random stand-in never carries a published digest: reported, fatal only if strict
    import dataclasses

    from harness import presets

    t2i = get_preset("t2i")
    pinned = tuple(dataclasses.replace(w, sha256="0" * 64) if w.key == "geneval_clip" else w for w in t2i.weights)
    monkeypatch.setitem(presets.PRESETS, "t2i", dataclasses.replace(t2i, weights=pinned))
    ok, lines = doctor("t2i", tmp_path)
    assert ok and any(l.startswith("[BADHASH] clip/ViT-L-14/open_clip_pytorch_model.bin") for l in lines)
    assert not doctor("t2i", tmp_path, strict_hashes=True)[0]
    nets = load_task_networks("t2i", tmp_path, configs=cfgs)
    teacher, tok = nets["teacher"], nets["tokenizer"]
    cap = teacher.clip.tokenize(["a red circle"])
    with torch.no_grad():
        logits = teacher(torch.full((1, 128), teacher.mask_id), cap)
        img = tok.decode(logits.argmax(-1), cap)
        feats = nets["backbone"].features(img)
    assert logits.shape == (1, 128, 8192) and img.shape == (1, 3, 256, 256)
    assert feats["block11"].shape[:2] == (1, 16)
