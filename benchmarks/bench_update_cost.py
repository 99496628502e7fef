"""Cost of ONE training update of each one-step distiller on the shapes class task, before and after the
cheap-update settings: seconds, FLOPs, and where the seconds go.

    OMP_NUM_THREADS=1 python benchmarks/bench_update_cost.py [--random] [--warmup 2] [--steps 5]
        [--distillers fpd,control,dimo,sdtt] [--contention "what else runs on the machine"]

Settings: "before" = batch 64 in fp32 (the old defaults); "after" = batch 32 with the network forwards under
bf16 autocast, what `harness train X --precision bf16 --set batch=32` runs (harness.distributed.amp wraps each
network in harness.precision.Autocast; losses stay float32). Distillers, each at its trainer's defaults:
  fpd      harness/trainers/fpd.py (positives=target)
  control  the same with positives=data, drift_sets=condition, per_cond=4 (fresh renders are the positives)
  dimo     harness/trainers/dimo.py: generator update, EMA, one aux update (fake_lr 0 = the generator's lr)
  sdtt     harness/trainers/sdtt.py: one SDTT update of round 0 (16-step teacher, two teacher steps)
The update is rebuilt here from the trainer's own objects and in its order (loss, backward, clipping,
optimiser; the diagnostics of stats_every, sample grids and checkpoints are not part of an update).
Per (distiller, setting): the median wall and CPU seconds of `--steps` updates after `--warmup`, the
matmul/conv/attention FLOPs of one more update (benchmarks/flops.py), and a breakdown of the wall time into
exclusive parts: each network call and method (tagged "(no grad)" outside autograd), FPD's drift loss,
the rest of each loss (sampling, STE, masking, small kernels), backward, optimiser. One JSON line per
(distiller, setting) goes to benchmarks/results/update_cost.jsonl; a table is printed at the end.
Both settings of a distiller run back to back in one process, so their ratio survives a busy machine.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import functools
import os
import statistics
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from benchmarks.flops import (
    common_args,
    count_flops,
    device_of,
    emit,
    env_info,
    shapes_networks,  # noqa: E402
    summary,
    sync,
)

SETTINGS = {"before": {"batch": 64, "precision": "fp32"}, "after": {"batch": 32, "precision": "bf16"}}
DISTILLERS = ("fpd", "control", "dimo", "sdtt")
CONTROL = {"positives": "data", "drift_sets": "condition", "per_cond": 4}
SDTT_TRAIN_RENDERS = 512  # the trainer tokenises 8000; an update indexes a batch of them, so fewer cost the same


class Clock:
    """Exclusive wall seconds per named part of one update: a part's time excludes the parts nested in it,
    so the parts of an update add up to the update."""

    def __init__(self, device: torch.device):
        self.device, self.times, self._child = device, defaultdict(float), []

    @contextmanager
    def part(self, name: str):
        sync(self.device)  # a GPU's queued work belongs to the part that queued it
        self._child.append(0.0)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            sync(self.device)
            dt = time.perf_counter() - t0
            self.times[name] += dt - self._child.pop()
            if self._child:
                self._child[-1] += dt

    def wrap(self, name: str, fn):
        """fn timed as `name`, tagged '(no grad)' when called outside autograd (a frozen use of the network)."""

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            with self.part(name if torch.is_grad_enabled() else f"{name} (no grad)"):
                return fn(*args, **kwargs)

        return timed


class Timed(nn.Module):
    """`inner` (a network, possibly Autocast-wrapped) with its forward and the named methods timed by `clock`;
    every other attribute is the inner one's, so the method code sees the network it expects."""

    def __init__(self, inner, name: str, clock: Clock, methods: tuple[str, ...] = ()):
        super().__init__()
        self.inner = inner
        self._timed = {m: clock.wrap(f"{name} {m}", getattr(inner, m)) for m in methods}
        self._forward = clock.wrap(f"{name} forward", inner)

    def forward(self, *args, **kwargs):
        return self._forward(*args, **kwargs)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name in ("inner", "_timed", "_forward"):
                raise
        timed = self.__dict__.get("_timed", {})
        return timed[name] if name in timed else getattr(self.inner, name)


def _net(module, name: str, clock: Clock, methods: tuple[str, ...] = ()):
    """The network as a trainer hands it to its method (D.amp: Autocast under bf16), timed."""
    from harness import distributed as D

    return Timed(D.amp(module, "shapes"), name, clock, methods)


# ---------------------------------------------------------------- one update per distiller, as its trainer runs it


def fpd_update(nets: dict, batch: int, dev, clock: Clock, **overrides):
    """harness/trainers/fpd.py's step (one process, no GAN); `overrides` make the data-positives control."""
    from harness.networks.shapes_backbone import FrozenBackbone
    from harness.trainers.common import shapes_conditions, shapes_renders
    from harness.trainers.fpd import FPDTrainConfig
    from methods.fpd import FPD, condition_leaders
    from methods.rng import SeedStreams

    cfg = dataclasses.replace(FPDTrainConfig(), batch=batch, stats_every=0, **overrides)
    torch.manual_seed(cfg.seed)
    backbone = FrozenBackbone(nets["backbone"], tuple(cfg.blocks), cfg.grid or None, cfg.token_norm)
    student = copy.deepcopy(nets["teacher"]).train().requires_grad_(True)
    opt = torch.optim.AdamW(student.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    method = FPD(
        _net(student, "student", clock),
        _net(nets["teacher"], "teacher", clock),
        _net(nets["tok"], "tokenizer", clock, ("decode", "decode_embeddings")),
        _net(backbone, "backbone", clock, ("features",)),
        cfg.fpd(),
    )

    def step(i: int) -> None:
        with clock.part("conditions + data renders"):
            seeds = SeedStreams.derive(cfg.seed, i, range(cfg.batch))
            cond_seeds = [seeds[j] for j in condition_leaders(cfg.batch, cfg.per_cond)]
            cond = shapes_conditions(cfg.task, cond_seeds).to(dev)
            data = shapes_renders(cfg.task, cond_seeds, seeds) if cfg.positives == "data" else None
        with clock.part("loss (rest: STE, sampling, masking)"):
            loss, _, _ = method.loss(cond, seeds, data=data)
        with clock.part("backward"):
            opt.zero_grad(set_to_none=True)
            loss.backward()
        with clock.part("optimizer (clip + AdamW)"):
            float(torch.nn.utils.clip_grad_norm_(student.parameters(), cfg.grad_clip))  # the trainer logs it: a sync
            opt.step()

    return step, {k: v for k, v in dataclasses.asdict(cfg).items() if k in ("batch", *overrides)}


def dimo_update(nets: dict, batch: int, dev, clock: Clock):
    """harness/trainers/dimo.py's step: generator update, EMA, one aux update on a fresh sample."""
    from harness.trainers.dimo import DiMOTrainConfig, _nan_to_num_grads, conditions
    from methods.dimo import EMA, DiMO, freeze_embeddings
    from methods.rng import SeedStreams

    cfg = dataclasses.replace(DiMOTrainConfig(), batch=batch)
    dcfg = cfg.dimo()
    torch.manual_seed(cfg.seed)
    gen = copy.deepcopy(nets["teacher"]).train().requires_grad_(True)
    aux = copy.deepcopy(nets["teacher"]).train().requires_grad_(True)
    freeze_embeddings(gen, dcfg.frozen)
    freeze_embeddings(aux, dcfg.frozen)
    ema = EMA(gen, dcfg.ema_decay)
    g_params = [p for p in gen.parameters() if p.requires_grad]
    f_params = [p for p in aux.parameters() if p.requires_grad]
    fake_lr = cfg.fake_lr or cfg.lr
    opt_g = torch.optim.Adam(g_params, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.adam_eps)
    opt_f = torch.optim.Adam(f_params, lr=fake_lr, betas=tuple(cfg.betas), eps=cfg.adam_eps)
    method = DiMO(
        _net(gen, "generator", clock),
        _net(aux, "aux", clock),
        _net(nets["teacher"], "teacher", clock),
        _net(nets["tok"], "tokenizer", clock),
        dcfg,
    )

    def step(i: int) -> None:
        with clock.part("conditions + lr"):
            warm = min(1.0, (i + 1) / max(1, cfg.warmup))
            for o, lr in ((opt_g, cfg.lr), (opt_f, fake_lr)):
                for pg in o.param_groups:
                    pg["lr"] = lr * warm
            seeds = SeedStreams.derive(cfg.seed, i, range(cfg.batch))
            cond = conditions(cfg.task, seeds, None).to(dev)
            aux_seeds = SeedStreams.derive(cfg.seed, i, range(cfg.batch, 2 * cfg.batch))
            aux_cond = conditions(cfg.task, aux_seeds, None).to(dev)
        with clock.part("generator loss (rest: DiMO gradient, masking)"):
            loss_g, _, _ = method.generator_loss(cond, seeds)
        with clock.part("generator backward"):
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
        with clock.part("generator optimizer (clip + Adam)"):
            float(torch.nn.utils.clip_grad_norm_(g_params, cfg.grad_clip))
            _nan_to_num_grads(g_params)
            opt_g.step()
        with clock.part("EMA update"):
            ema.update(gen, i)
        with clock.part("aux loss (rest: masking, cross-entropy)"):
            loss_f, _ = method.aux_loss(aux_cond, aux_seeds)
        with clock.part("aux backward"):
            opt_f.zero_grad(set_to_none=True)
            loss_f.backward()
        with clock.part("aux optimizer (Adam)"):
            _nan_to_num_grads(f_params)
            opt_f.step()

    return step, {"batch": cfg.batch}


def sdtt_update(nets: dict, batch: int, dev, clock: Clock):
    """harness/trainers/sdtt.py's step in round 0 (the round boundary, 100 updates away, is never reached)."""
    from harness.train_loop import step_generator
    from harness.trainers.sdtt import SDTTTrainConfig, real_tokens
    from methods.rng import SeedStreams
    from methods.sdtt import SDTT

    cfg = dataclasses.replace(SDTTTrainConfig(), batch=batch)
    torch.manual_seed(cfg.seed)
    teacher = copy.deepcopy(nets["teacher"])  # SDTT's teacher is a trained module (rounds copy into it)
    student = copy.deepcopy(teacher).train().requires_grad_(True)
    opt = torch.optim.AdamW(student.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    method = SDTT(_net(student, "student", clock), _net(teacher, "teacher", clock), cfg.sdtt())
    codes, conds = real_tokens(nets["tok"], cfg.task, SDTT_TRAIN_RENDERS)
    codes, conds = codes.to(dev), conds.to(dev)

    def step(i: int) -> None:
        with clock.part("data batch + lr"):
            method.set_round(i // cfg.round_steps)
            for pg in opt.param_groups:
                pg["lr"] = cfg.lr * min(1.0, (i + 1) / max(1, cfg.warmup))
            idx = torch.randint(0, len(codes), (cfg.batch,), generator=step_generator(cfg.seed, i, stream=1)).to(dev)
            seeds = SeedStreams.derive(cfg.seed, i, range(cfg.batch))
        with clock.part("loss (rest: corruption, reveal, KL)"):
            loss, _ = method.loss(codes[idx], conds[idx], seeds)
        with clock.part("backward"):
            opt.zero_grad(set_to_none=True)
            loss.backward()
        with clock.part("optimizer (clip + AdamW)"):
            float(torch.nn.utils.clip_grad_norm_(student.parameters(), cfg.grad_clip))
            opt.step()

    return step, {"batch": cfg.batch, "round": 0, "teacher_steps": cfg.start_steps}


def build(distiller: str, nets: dict, batch: int, dev, clock: Clock):
    if distiller in ("fpd", "control"):
        return fpd_update(nets, batch, dev, clock, **(CONTROL if distiller == "control" else {}))
    return (dimo_update if distiller == "dimo" else sdtt_update)(nets, batch, dev, clock)


# ---------------------------------------------------------------- measurement


def measure(distiller: str, setting: str, nets: dict, dev, args) -> dict:
    from harness import distributed as D

    s = SETTINGS[setting]
    D.configure(dev.type, s["precision"])  # what `--precision` sets; D.amp reads it when the update is built
    clock = Clock(dev)
    step, config = build(distiller, nets, s["batch"], dev, clock)
    # drift_loss is a plain function FPD.loss calls by its module-level name: wrapping it there is the only
    # way to time the drift kernel without editing methods/fpd.py (restored below)
    import methods.fpd as fpd_module

    drift_loss = fpd_module.drift_loss
    fpd_module.drift_loss = clock.wrap("drift loss", drift_loss)
    try:
        for i in range(args.warmup):
            step(i)
        wall, cpu, parts = [], [], defaultdict(list)
        for i in range(args.warmup, args.warmup + args.steps):
            clock.times.clear()
            t0, c0 = time.perf_counter(), time.process_time()
            step(i)
            sync(dev)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)  # CPU seconds: steadier than wall time on a shared machine
            for k, v in clock.times.items():
                parts[k].append(v)
        _, flops = count_flops(lambda: step(args.warmup + args.steps))
    finally:
        fpd_module.drift_loss = drift_loss
        D.configure(None, None)
    sec = summary(wall)
    breakdown = {k: statistics.median(v) for k, v in sorted(parts.items(), key=lambda kv: -statistics.median(kv[1]))}
    return {
        "distiller": distiller,
        "setting": setting,
        "precision": s["precision"],
        "config": config,
        "sec_per_update": sec,
        "cpu_sec_per_update": statistics.median(cpu),
        "flops_per_update": flops,
        "achieved_flops_per_s": flops / sec["median_s"],
        "samples_per_s": s["batch"] / sec["median_s"],
        "breakdown_s": breakdown,
        "breakdown_share": {k: v / sum(breakdown.values()) for k, v in breakdown.items()},
    }


def table(rows: list[dict], top: int) -> str:
    """s/update, FLOPs and the after/before speed-up per row, then each row's largest parts."""
    base = {r["distiller"]: r["sec_per_update"]["median_s"] for r in rows if r["setting"] == "before"}
    out = [f"{'distiller':<9} {'setting':<17} {'s/update':>9} {'cpu s':>7} {'GFLOP':>7} {'GFLOP/s':>8} {'x faster':>8}"]
    for r in rows:
        s = r["sec_per_update"]["median_s"]
        speed = f"{base[r['distiller']] / s:.2f}" if r["setting"] != "before" and r["distiller"] in base else ""
        setting = f"{r['setting']} ({r['config']['batch']}, {r['precision']})"
        out.append(
            f"{r['distiller']:<9} {setting:<17} {s:>9.3f} {r['cpu_sec_per_update']:>7.3f}"
            f" {r['flops_per_update'] / 1e9:>7.2f} {r['achieved_flops_per_s'] / 1e9:>8.1f} {speed:>8}"
        )
    out.append(f"\ntop {top} parts of one update (median s, share):")
    for r in rows:
        parts = list(r["breakdown_s"].items())[:top]
        out.append(
            f"  {r['distiller']} {r['setting']}: "
            + ", ".join(f"{k} {v:.3f} ({r['breakdown_share'][k]:.0%})" for k, v in parts)
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_args(ap)
    ap.add_argument("--warmup", type=int, default=2, help="untimed updates per (distiller, setting)")
    ap.add_argument("--steps", type=int, default=5, help="timed updates per (distiller, setting); median reported")
    ap.add_argument("--distillers", default=",".join(DISTILLERS), help=f"comma-separated subset of {DISTILLERS}")
    ap.add_argument("--top", type=int, default=5, help="parts per update shown in the printed table")
    ap.add_argument(
        "--contention",
        default="none stated",
        help="what else ran on the machine meanwhile (recorded with the numbers; the load average is too)",
    )
    args = ap.parse_args(argv)
    bad = set(args.distillers.split(",")) - set(DISTILLERS)
    if bad:
        ap.error(f"unknown distillers {sorted(bad)}; choose from {DISTILLERS}")
    torch.set_num_threads(1)  # as the training runs use (OMP_NUM_THREADS=1 must come from the command line)
    dev = device_of(args.cpu)
    nets = shapes_networks(args.random, dev, backbone=True)
    common = {
        "task": "shapes",
        "networks": nets["which"],
        **env_info(dev),
        "warmup": args.warmup,
        "timed_updates": args.steps,
        "contention": args.contention,
    }
    rows = []
    for distiller in args.distillers.split(","):
        for setting in SETTINGS:  # back to back: the before/after ratio sees the same machine load
            load = os.getloadavg()[0]
            rows.append(
                emit(
                    {**common, "load_avg_1min": load, **measure(distiller, setting, nets, dev, args)},
                    "update_cost",
                    args.out_dir,
                )
            )
    print(table(rows, args.top))
    return rows


if __name__ == "__main__":
    main()
