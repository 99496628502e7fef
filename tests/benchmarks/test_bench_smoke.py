"""Each benchmark's main() at the tiniest sizes on random networks: one valid JSON line with the expected keys."""

import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

TINY = {
    "bench_sampling": (
        ["--batch=2", "--repeats=1", "--warmup=0", "--teacher-steps=2"],
        "sampling",
        ["student", "teacher", "speedup_student_over_teacher", "flop_ratio_ideal", "speedup_over_ideal"],
    ),
    "bench_eval_throughput": (
        ["--batch=2", "--repeats=1", "--warmup=0", "--n-detect=2"],
        "eval_throughput",
        ["generation", "features", "detector", "images_per_s_shapes_fid"],
    ),
    "bench_overhead": (
        ["--batch=2", "--repeats=1", "--warmup=0"],
        "overhead",
        ["full", "raw", "overhead_pct", "overhead_pct_paired", "breakdown_ms", "within_target"],
    ),
    "bench_fpd_step": (
        ["--batch=2", "--steps=1", "--warmup=0", "--in-process"],
        "fpd_step",
        ["sec_per_step", "peak_memory_mb", "flops_per_step", "achieved_flops_per_s", "forward_flops_by_network"],
    ),
    "bench_fpd_step[text]": (
        ["--batch=2", "--steps=1", "--warmup=0", "--in-process", "--task=shapes-t2i"],
        "fpd_step",
        ["sec_per_step", "flops_per_step", "forward_flops_by_network"],
    ),
    # MaskGIT-scale FPD vs DiMO, reduced (--small: depth 2, narrow VQGAN / DINOv3) so the CPU run takes seconds
    "bench_paper_scale": (
        ["--small", "--in-process", "--modes=fpd,dimo"],
        "paper_scale",
        ["modes", "config", "ratio_dimo_over_fpd", "peak_memory_kind"],
    ),
}


def _finite_numbers(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _finite_numbers(v)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield obj


@pytest.mark.parametrize("module", list(TINY))
def test_benchmark_emits_one_json_line(module, tmp_path, capsys):
    import importlib

    flags, name, keys = TINY[module]
    mod = importlib.import_module(f"benchmarks.{module.split('[')[0]}")
    rec = mod.main(["--random", "--cpu", f"--out-dir={tmp_path}", *flags])
    lines = [l for l in capsys.readouterr().out.splitlines() if l.strip()]
    assert len(lines) == 1
    printed = json.loads(lines[0])
    assert printed["bench"] == name and printed["networks"] == "random"
    if "--task=shapes-t2i" in flags:  # the text teacher and caption conditions, not the class task's
        assert printed["task"] == "shapes-t2i"
    for k in keys:
        assert k in printed, k
    assert all(math.isfinite(x) for x in _finite_numbers(printed))
    if name == "paper_scale":  # both methods timed, measured and FLOP-counted
        for m in ("fpd", "dimo"):
            assert printed["modes"][m]["step_time_s"] > 0 and printed["modes"][m]["flops_per_step"] > 1e9
    if name == "fpd_step":  # every network of the step owns a share, the shares add up to the whole forward
        split = printed["forward_flops_by_network"]
        assert abs(sum(split.values()) - 1) < 1e-3
        assert all(split[k] > 0 for k in ("student", "teacher", "tokenizer", "backbone")), split
    stored = (tmp_path / f"{name}.jsonl").read_text().splitlines()
    assert len(stored) == 1 and json.loads(stored[0]) == printed == json.loads(json.dumps(rec))


def test_flops_are_counted_with_the_fused_transformer_path():
    """FlopCounterMode cannot see inside the fused encoder-layer kernel; count_flops must turn it off."""
    import torch
    from benchmarks.flops import count_flops
    from harness.networks.shapes_transformer import ShapesMaskTransformer, TransformerConfig

    m = (
        ShapesMaskTransformer(TransformerConfig(width=32, depth=1, heads=2, codebook_size=32))
        .eval()
        .requires_grad_(False)
    )
    x, c = torch.zeros(2, 64, dtype=torch.long), torch.zeros(2, dtype=torch.long)
    with torch.inference_mode():
        _, flops = count_flops(lambda: m(x, c))
    w, n = 32, 65
    per_token = 2 * (4 * w * w + 2 * w * 4 * w)  # qkv + out projections, MLP
    assert flops >= 2 * n * per_token  # the attention blocks count
    assert torch.backends.mha.get_fastpath_enabled()  # restored


def test_run_all_lists_every_benchmark(tmp_path):
    from benchmarks import run_all

    for name, (script, *_rest) in run_all.BENCHES.items():
        argv = run_all.command(name, quick=True, random=True, out_dir=tmp_path, cuda=False)
        if (ROOT / "benchmarks" / script).exists():
            assert argv and argv[1].endswith(script)
        else:
            assert argv is None
    assert "--random" in run_all.command("sampling", True, True, tmp_path, False)


def test_update_cost_times_every_distiller_before_and_after(tmp_path, capsys):
    """bench_update_cost: one JSON line per (distiller, setting); the parts of an update add up to it, and the
    'after' setting halves the FLOPs of 'before' (batch 32 against 64)."""
    from benchmarks import bench_update_cost as B

    rows = B.main(["--random", "--cpu", f"--out-dir={tmp_path}", "--warmup=0", "--steps=1", "--distillers=fpd,dimo"])
    stored = [json.loads(l) for l in (tmp_path / "update_cost.jsonl").read_text().splitlines()]
    assert len(stored) == len(rows) == 4
    by = {(r["distiller"], r["setting"]): r for r in stored}
    for d in ("fpd", "dimo"):
        before, after = by[(d, "before")], by[(d, "after")]
        assert after["flops_per_update"] == pytest.approx(before["flops_per_update"] / 2, rel=0.02)
        assert all(math.isfinite(x) for x in _finite_numbers(after))
