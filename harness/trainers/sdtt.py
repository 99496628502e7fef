"""`harness train sdtt --task shapes|shapes-t2i`: the SDTT baseline run (methods/sdtt.py).

Data: tokenizer codes of real renders with their conditions (SDTT is data-based). Rounds of
`round_steps` optimiser steps: round k distils the start/2^k-step teacher into a start/2^(k+1)-step
student; at its end the student is exported as `<out>/student_<N>step.safetensors/.json` (what
`harness eval --method sdtt --steps N` loads) and copied into the teacher (jdeschena/sdtt `_student_to_teacher`). The
teacher is a checkpointed module, so a resumed run continues in the right round with the right teacher.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, fields
from pathlib import Path

import torch

from harness import distributed as D
from harness.config import to_dict
from harness.errors import HarnessError
from harness.train_loop import TrainLoop, peak_memory_mb, step_generator
from harness.trainers.common import cost_report, count_trainable, export_student
from methods.rng import SeedStreams
from methods.sdtt import SDTT, SDTTConfig


@dataclass(frozen=True)
class SDTTTrainConfig:
    task: str = "shapes"
    # shapes defaults: the budget (4 rounds) and lr chosen on validation seeds by the fair protocol
    # (docs/fpd-diagnosis.md, which holds the grid).
    steps: int = (
        400  # total = round_steps x rounds (a smaller --steps stops early); shapes: 76 GFLOP/update at batch 64
    )
    round_steps: int = 100  # SDTT grow_dt_every (10k on OpenWebText)
    batch: int = 64  # SDTT README: 128 global
    lr: float = 1e-3  # SDTT code default 3e-4 (AdamW, wd 0)
    warmup: int = 50  # SDTT 2500, constant afterwards
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    seed: int = 0
    n_train: int = 8000  # real renders tokenised once
    # SDTT options (methods.sdtt.SDTTConfig), flat so `--set key=value` reaches them
    start_steps: int = 16
    final_steps: int = 1
    num_distill_steps: int = 2
    divergence: str = "kl-bwd"
    teacher_step: str = "confidence"
    teacher_w: float = 0.0
    sm_temp: float = 1.0
    r_temp: float = 4.5
    cond_drop: float = 0.1

    def sdtt(self) -> SDTTConfig:
        names = {f.name for f in fields(SDTTConfig)}
        return SDTTConfig(**{k: v for k, v in to_dict(self).items() if k in names})


def build_networks(cfg: SDTTTrainConfig):
    """(tokenizer, teacher) — the shipped shapes assets."""
    from harness.trainers.teacher import load_shipped as load_teacher
    from harness.trainers.tokenizer import load_shipped as load_tokenizer

    return load_tokenizer(), load_teacher(cfg.task)


@torch.no_grad()
def real_tokens(tok, task: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Codes [n, L] of real training renders and their conditions (labels or caption ids)."""
    from harness.tasks.shapes_data import class_dataset, scene_dataset, to_float

    imgs, cond = class_dataset(n, "train") if task == "shapes" else scene_dataset(n, "train")[:2]
    dev = next(tok.parameters()).device
    codes = torch.cat([tok.encode(to_float(imgs[i : i + 500]).to(dev)) for i in range(0, n, 500)])
    return codes, cond


def train(cfg: SDTTTrainConfig, out: Path, sample_every: int = 150) -> dict:
    D.init()
    scfg = cfg.sdtt()
    if cfg.round_steps < 1:
        raise HarnessError(f"round_steps must be >= 1, got {cfg.round_steps}")
    if cfg.steps > cfg.round_steps * scfg.rounds:
        raise HarnessError(
            f"--steps {cfg.steps} exceeds {scfg.rounds} rounds x round_steps {cfg.round_steps} "
            f"= {cfg.round_steps * scfg.rounds}; raise round_steps instead"
        )
    t_start = time.perf_counter()
    tok, teacher = build_networks(cfg)
    dev = D.device()
    torch.manual_seed(cfg.seed)
    teacher = teacher.to(dev).eval().requires_grad_(False)
    student = copy.deepcopy(teacher).train().requires_grad_(True)  # initialised from the teacher
    tok = tok.to(dev) if isinstance(tok, torch.nn.Module) else tok
    amp = lambda m: D.amp(m, cfg.task)  # noqa: E731  (bf16 only when asked: --precision bf16)
    ddp = torch.nn.parallel.DistributedDataParallel(amp(student)) if D.world() > 1 else amp(student)
    opt = torch.optim.AdamW(student.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    method = SDTT(ddp, amp(teacher), scfg)

    def sampler_steps(i: int) -> int:
        return max(1, scfg.teacher_steps(min(i // cfg.round_steps, scfg.rounds - 1)) // 2)

    def grid(step: int, folder: Path) -> None:
        from harness.grids import generator_grid
        from harness.sampler_presets import build_teacher_sampler, maskgit_settings

        n = sampler_steps(step - 1)
        student.eval()
        gen, _ = build_teacher_sampler(student, tok, n, maskgit_settings(cfg.task), device=dev)
        generator_grid(gen, cfg.task, folder / f"step_{step:07d}_{n}step.png")
        student.train()

    student_config = {
        "method": "sdtt",
        "train": to_dict(cfg),
        "model": student.cfg.to_dict() if hasattr(student.cfg, "to_dict") else {},
        "sampler_hint": {"schedule": "proper"},
    }  # the step grid it was distilled on (methods/sdtt.py)

    def point(step: int, folder: Path) -> None:
        # the student as it stands: a one-step student only after the last round; earlier points are the
        # round's student, which `harness curve` samples in one step like every point
        export_student(
            folder,
            "student",
            student,
            {**student_config, "round": min(max(step - 1, 0) // cfg.round_steps, scfg.rounds - 1)},
            {"updates": step, "teacher_sha256": getattr(teacher, "asset_sha256", None)},
        )

    loop = TrainLoop(
        out,
        cfg,
        {"student": student, "teacher": teacher},
        {"opt": opt},
        cfg.steps,
        ckpt_every=100,
        log_every=10,
        sample_every=sample_every,
        sample_fn=grid,
        desc=f"sdtt[{cfg.task}]",
        point_fn=point,
    )
    codes, conds = real_tokens(tok, cfg.task, cfg.n_train)
    codes, conds = codes.to(dev), conds.to(dev)
    local = D.local_slice(cfg.batch)
    times: list[float] = []
    exports: dict[str, dict] = {}

    def export_round(i: int) -> None:
        k = i // cfg.round_steps
        n_teacher = scfg.teacher_steps(k)
        stats = {
            "sec_per_step": sum(times[1:]) / max(1, len(times) - 1) if times else None,
            "peak_memory_mb": peak_memory_mb(),
            "wall_time_s": time.perf_counter() - t_start,
            "steps_run": len(times),
        }
        costs = cost_report(
            stats,
            count_trainable(student),
            [
                "student",
                "teacher (frozen; the previous round's student)",
                "tokenizer (encoder for data, decoder for grids)",
            ],
            aux_score_net=False,
        )
        costs["distill_steps_total"] = i + 1  # optimiser steps from the original teacher to this student
        name = f"student_{n_teacher // 2}step"
        exports[name] = export_student(
            out,
            name,
            student,
            {**student_config, "round": k, "teacher_steps": n_teacher, "student_steps": n_teacher // 2},
            {"costs": costs, "teacher_sha256": getattr(teacher, "asset_sha256", None)},
        )

    def step(i: int) -> dict:
        t0 = time.perf_counter()
        method.set_round(i // cfg.round_steps)
        for pg in opt.param_groups:  # stateless warm-up: resumes exactly
            pg["lr"] = cfg.lr * min(1.0, (i + 1) / max(1, cfg.warmup))
        g = step_generator(cfg.seed, i, stream=1)
        idx = torch.randint(0, len(codes), (cfg.batch,), generator=g)[local].to(dev)
        seeds = SeedStreams.derive(cfg.seed, i, range(cfg.batch))[local]
        loss, logs = method.loss(codes[idx], conds[idx], seeds)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        logs["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(student.parameters(), cfg.grad_clip))
        opt.step()
        times.append(time.perf_counter() - t0)
        if (i + 1) % cfg.round_steps == 0:  # round boundary
            if D.is_main():
                export_round(i)
            method.end_round()  # teacher <- student, steps halve
        return logs

    stats = loop.run(step)
    done = sorted(p.stem for p in Path(out).glob("student_*step.safetensors"))
    return {
        "train": stats,
        "exports": {k: v["sha256"] for k, v in exports.items()},
        "students": done,
        "device": str(dev),
        "precision": D.precision(cfg.task),
    }
