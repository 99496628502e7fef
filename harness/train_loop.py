"""The training loop every trainer shares: resumable by re-running the same command.

A run folder holds `config.json` (the resolved config), `log.jsonl`, `checkpoints/step_XXXXXXX/`
(one safetensors file per module, optimizer + step in `train_state.pt`, `meta.json` with the
sha256 of each file) and `latest.json` pointing at the newest complete checkpoint. A checkpoint
folder is written under a temporary name and renamed when complete (atomic), and `latest.json`
is replaced atomically after it, so SIGKILL at any moment leaves the last good checkpoint intact.

Randomness inside a step must come from `step_generator(seed, step)` or per-sample keyed streams,
never from global RNG state, so a resumed run repeats exactly what an uninterrupted one does.
"""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import sys
import time
from dataclasses import dataclass, field, is_dataclass
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from harness import distributed as D
from harness.config import to_dict
from harness.errors import HarnessError
from harness.io import config_hash, lock_folder, sha256_file, write_json


def step_generator(seed: int, step: int, stream: int = 0) -> torch.Generator:
    """A generator that depends only on (seed, step, stream)."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step * 7919 + stream) % (2**63 - 1))


def curve_points(total_steps: int) -> list[int]:
    """The update counts a run exports its student at, for learning curves: 0 (the untrained start),
    the log-spaced 10, 30, 100, 300, 1,000, 3,000, ... below total_steps, and total_steps itself."""
    pts, k = [0], 10
    while k < total_steps:
        pts.append(k)
        k = k * 3 if str(k).startswith("1") else k * 10 // 3
    return pts + [total_steps]


def peak_memory_mb() -> float:
    dev = D.device()
    if dev.type == "cuda":  # the GPU the run uses, not merely one that exists (--device cpu)
        return torch.cuda.max_memory_allocated(dev) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def unwrap(m: nn.Module) -> nn.Module:
    return m.module if hasattr(m, "module") else m


def latest_checkpoint(run_dir: Path) -> tuple[Path, dict] | None:
    """(folder, meta) of a run's newest complete checkpoint, every file's sha256 checked; None before the first."""
    latest = Path(run_dir) / "latest.json"
    if not latest.exists():
        return None
    ck = Path(run_dir) / "checkpoints" / json.loads(latest.read_text())["checkpoint"]
    meta = json.loads((ck / "meta.json").read_text())
    for name, digest in meta["sha256"].items():
        if sha256_file(ck / name) != digest:
            raise HarnessError(
                f"checkpoint file {ck / name} is corrupt (sha256 mismatch); delete {ck} and {latest} to resume from "
                f"the previous one"
            )
    return ck, meta


@dataclass
class TrainLoop:
    run_dir: Path
    config: object  # the trainer's config dataclass (or a plain dict)
    modules: dict[str, nn.Module]  # everything whose weights must be saved
    optimizers: dict[str, torch.optim.Optimizer]
    total_steps: int
    ckpt_every: int = 200
    log_every: int = 10
    keep: int = 2
    sample_every: int = 0
    sample_fn: Callable[[int, Path], None] | None = None
    desc: str = "train"
    bar_keys: tuple = ()  # logs shown on the progress bar (default: the first four)
    point_fn: Callable[[int, Path], None] | None = None  # exports the student at each curve point into the folder given
    start_step: int = field(default=0, init=False)

    def __post_init__(self):
        self.run_dir = Path(self.run_dir)
        # The config's dataclass defaults: a key a stored run lacks (an option added since) is read as its default,
        # so a run made before the option existed still resumes; a non-default value still refuses.
        self.config_defaults = to_dict(type(self.config)()) if is_dataclass(self.config) else None
        self.config = to_dict(self.config) if is_dataclass(self.config) else dict(self.config)
        # Operational knob, not part of the config (results do not depend on it): checkpoint interval.
        self.ckpt_every = int(os.environ.get("FPD_CKPT_EVERY", self.ckpt_every))
        # `harness train --stop-at N`: train this schedule only up to step N (a piece of a longer run; checkpointed)
        self.stop_at = min(self.total_steps, int(os.environ.get("FPD_STOP_AT") or self.total_steps))
        if self.total_steps < 1:
            raise HarnessError(f"--steps must be >= 1, got {self.total_steps}")
        self.points = set(curve_points(self.total_steps))
        if D.is_main():  # one writer per run folder: a second process on it refuses at once
            lock_folder(self.run_dir, "run")
        fresh = not (self.run_dir / "config.json").exists()
        self._check_or_write_config()
        self.start_step = self._resume()
        if D.is_main() and self.point_fn:  # a distiller's long run whose folder vanished (a new checkout, a cleaned
            # cache) starts afresh, visibly
            print(
                f"{self.desc}: "
                + (
                    f"no run in {self.run_dir}; starting afresh"
                    if fresh
                    else f"resuming {self.run_dir} at update {self.start_step}"
                ),
                file=sys.stderr,
            )
        if D.is_main() and self.start_step < self.total_steps:
            self._record_segment()

    # ---------------------------------------------------------------- config and resume
    def _check_or_write_config(self) -> None:
        path = self.run_dir / "config.json"
        # Training longer is a valid resume, and so is a change of the diagnostics or of torch.compile
        # (they change no update).
        free = ("steps", "stats_every", "stats_n", "compile")
        want = {k: v for k, v in self.config.items() if k not in free}
        if path.exists():
            try:
                have = {k: v for k, v in json.loads(path.read_text()).items() if k not in free}
                have = {k: v for k, v in (self.config_defaults or {}).items() if k not in free and k not in have} | have
            except json.JSONDecodeError:
                raise HarnessError(f"{path} is corrupt; delete the run folder {self.run_dir} or use another --out")
            if config_hash(have) != config_hash(want):
                diff = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
                raise HarnessError(
                    f"run folder {self.run_dir} holds a run with a different config (differs in {diff}); "
                    "use another --out or the same options"
                )
        if D.is_main():
            write_json(path, self.config)

    def _resume(self) -> int:
        found = latest_checkpoint(self.run_dir)
        if found is None:
            return 0
        ck, meta = found
        for name, m in self.modules.items():
            unwrap(m).load_state_dict(load_file(ck / f"{name}.safetensors"))
        state = torch.load(ck / "train_state.pt", weights_only=False)
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        torch.set_rng_state(state["torch_rng"])
        if D.is_main():
            self._truncate_log(meta["step"])
        return int(meta["step"])

    def _record_segment(self) -> None:
        """Append this invocation to `segments.jsonl`. A run extended with a larger --steps is a different
        schedule (the lr decay follows the current --steps), so regenerating it needs every command in order."""
        cmd = "harness " + " ".join(sys.argv[1:]) if Path(sys.argv[0]).name in ("harness", "cli.py") else None
        with open(self.run_dir / "segments.jsonl", "a") as f:
            f.write(json.dumps({"from_step": self.start_step, "steps": self.total_steps, "command": cmd}) + "\n")

    def segments(self) -> list[dict]:
        """The invocations that trained this run, in order, each cut at the next one's starting step."""
        path = self.run_dir / "segments.jsonl"
        rows = [json.loads(l) for l in path.read_text().splitlines() if l.strip()] if path.exists() else []
        kept: list[dict] = []
        for r in rows:  # a resume after a crash re-records from its checkpoint: drop what it superseded
            while kept and kept[-1]["from_step"] >= r["from_step"]:
                kept.pop()
            if not kept or kept[-1]["steps"] != r["steps"]:  # same --steps again: the same schedule, continued
                kept.append(r)
        return kept

    def _truncate_log(self, step: int) -> None:
        log = self.run_dir / "log.jsonl"
        if log.exists():
            lines = [l for l in log.read_text().splitlines() if l.strip() and _log_step(l) <= step]
            log.write_text("".join(l + "\n" for l in lines))

    # ---------------------------------------------------------------- checkpoints
    def save_checkpoint(self, step: int) -> None:
        if not D.is_main():
            return
        root = self.run_dir / "checkpoints"
        name = f"step_{step:07d}"
        tmp = root / f".{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            tmp.mkdir(parents=True)
            digests = {}
            for mname, m in self.modules.items():
                f = tmp / f"{mname}.safetensors"
                save_file({k: v.detach().contiguous().cpu() for k, v in unwrap(m).state_dict().items()}, f)
                digests[f.name] = sha256_file(f)
            torch.save(
                {
                    "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                    "torch_rng": torch.get_rng_state(),
                    "step": step,
                },
                tmp / "train_state.pt",
            )
            digests["train_state.pt"] = sha256_file(tmp / "train_state.pt")
            (tmp / "meta.json").write_text(
                json.dumps({"step": step, "sha256": digests, "config_hash": config_hash(self.config)}, indent=2)
            )
            for f in tmp.iterdir():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
            final = root / name
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise HarnessError(
                f"saving checkpoint to {root} failed ({e.strerror}); free disk space, the previous checkpoint is intact"
            ) from e
        write_json(self.run_dir / "latest.json", {"checkpoint": name, "step": step})
        kept = sorted(p for p in root.iterdir() if p.name.startswith("step_"))
        for old in kept[: -self.keep]:
            shutil.rmtree(old, ignore_errors=True)

    # ---------------------------------------------------------------- curve points
    def export_point(self, step: int) -> None:
        """The student at update `step` as `curve/step_XXXXXXX/` (what `harness curve` scores). Written before the
        checkpoint that follows it; a resumed run re-makes the same point bit-identically."""
        if self.point_fn is None or not D.is_main() or step not in self.points:
            return
        folder = self.run_dir / "curve" / f"step_{step:07d}"
        if not (folder / "student.json").exists():
            self.point_fn(step, folder)

    # ---------------------------------------------------------------- loop
    def run(self, step_fn: Callable[[int], dict[str, float]]) -> dict:
        log_path = self.run_dir / "log.jsonl"
        t_run = time.perf_counter()
        step_times: list[float] = []
        bar = tqdm(
            range(self.start_step, max(self.start_step, self.stop_at)),
            initial=self.start_step,
            total=self.total_steps,
            desc=self.desc,
            disable=not D.is_main() or os.environ.get("FPD_NO_PROGRESS") == "1",
            dynamic_ncols=True,
        )
        last: dict[str, float] = {}
        if self.start_step == 0:
            self.export_point(0)
        for step in bar:
            t0 = time.perf_counter()
            logs = step_fn(step)
            step_times.append(time.perf_counter() - t0)
            bad = [k for k, v in logs.items() if not math.isfinite(float(v))]
            if bad:
                raise HarnessError(
                    f"non-finite {bad} at step {step}; stopped, the last good checkpoint in "
                    f"{self.run_dir / 'checkpoints'} is intact (lower the learning rate and re-run)"
                )
            last = {k: float(v) for k, v in logs.items()}
            done = step + 1
            if D.is_main() and (done % self.log_every == 0 or done == self.total_steps):
                with open(log_path, "a") as f:
                    f.write(json.dumps({"step": done, **last, "sec_per_step": step_times[-1]}) + "\n")
                keys = [k for k in self.bar_keys if k in last] or list(last)[:4]
                bar.set_postfix({k.replace("sample_", "s_"): f"{last[k]:.4g}" for k in keys})
            self.export_point(done)
            if self.sample_fn and self.sample_every and done % self.sample_every == 0 and D.is_main():
                self.sample_fn(done, self.run_dir / "samples")
            if done % self.ckpt_every == 0 or done in (self.total_steps, self.stop_at):
                self.save_checkpoint(done)
        D.barrier()
        if step_times:
            sec = sum(step_times[1:]) / max(1, len(step_times) - 1)
        else:  # a finished run re-run (e.g. to --ship it): its figures come from its log
            last, sec = logged_figures(self.run_dir)
        return {
            "steps_run": len(step_times),
            "wall_time_s": time.perf_counter() - t_run,
            "sec_per_step": sec,
            "peak_memory_mb": peak_memory_mb(),
            "last": last,
        }


def logged_figures(run_dir: Path) -> tuple[dict[str, float], float | None]:
    """(the last logged step's values, the median logged seconds per step) of a run's log.jsonl. The first
    logged step is left out of the median when there are others, as `TrainLoop.run` leaves out its first step
    (warm-up)."""
    log = Path(run_dir) / "log.jsonl"
    rows = [json.loads(l) for l in log.read_text().splitlines() if l.strip()] if log.exists() else []
    if not rows:
        return {}, None
    last = {k: float(v) for k, v in rows[-1].items() if k not in ("step", "sec_per_step")}
    secs = sorted(v for r in (rows[1:] or rows) if (v := r.get("sec_per_step")) is not None)
    return last, (secs[len(secs) // 2] if secs else None)


def _log_step(line: str) -> int:
    try:
        return int(json.loads(line)["step"])
    except (json.JSONDecodeError, KeyError, ValueError):
        return 1 << 62
