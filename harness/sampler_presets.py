"""Named teacher-sampler presets per task: the one place that decides how a task's teacher samples.

Like MaskGIT's published sampler settings, a preset fixes guidance w (and its ramp), sm_temp, the
Gumbel temperature r_temp and the schedule. Shapes presets are chosen by `harness sweep teacher`
on validation seeds disjoint from the reported ones and stored, with the sweep's table and the
command that made it, in `harness/assets/teacher_sampler_presets.json`. A task without a stored
preset uses its built-in defaults, named "<task>-builtin": for a shapes task
`harness.registry.TASKS[task].teacher_defaults`; for a paper task the published sampler of its
teacher from `harness.presets` (MaskGIT's for `imagenet`, MaskGen's own for `t2i`). The setting
"sampler" says which algorithm: "maskgit" (methods.teacher_sampler, the default) or "maskgen"
(harness.networks.maskgen.MaskGenSampler). Every teacher row records the preset's name and settings.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from harness.errors import HarnessError
from harness.io import write_json
from harness.registry import TASKS

PRESET_FILE = Path(__file__).parent / "assets" / "teacher_sampler_presets.json"
VALIDATION_SEED_BASE = 1_000_000  # sweeps score seeds >= this; reported rows use seeds below it


def preset_file() -> Path:
    """The shipped preset file, or $FPD_SAMPLER_PRESETS (a user's own file; tests use a temporary one)."""
    env = os.environ.get("FPD_SAMPLER_PRESETS")
    return Path(env) if env else PRESET_FILE


def _stored() -> dict:
    f = preset_file()
    return json.loads(f.read_text()) if f.exists() else {}


def teacher_preset(task: str) -> dict:
    """{"name", "settings"} of the task's teacher sampler (its config's fields except steps, plus "sampler")."""
    stored = _stored().get(task)
    if stored:
        return {"name": stored["name"], "settings": dict(stored["settings"])}
    t = TASKS.get_or_fail(task)
    settings = _published(task) if t.scale == "paper" else dict(t.teacher_defaults)
    return {"name": f"{task}-builtin", "settings": settings}


def algorithm(settings: dict) -> str:
    """The sampler algorithm a preset's settings are for (MaskGIT's unless they say otherwise)."""
    return settings.get("sampler", "maskgit")


def settings_for(base: dict, overrides: dict | None) -> dict:
    """A preset's settings with overrides (a sweep's grid point); overrides that switch the algorithm (sampler=maskgen
    on a MaskGIT preset) start from that algorithm's own defaults instead, since the other one's settings do not
    apply."""
    overrides = overrides or {}
    if algorithm({**base, **overrides}) != algorithm(base):
        return dict(overrides)
    return {**base, **overrides}


def maskgit_settings(task: str) -> dict:
    """The MaskGIT sampler settings SDTT students sample with: they were distilled for that algorithm on its
    grid (methods/sdtt.py), so a task whose preset is another algorithm's (MaskGen's, whose settings do not
    apply) falls back to the MaskGIT preset it replaced (stored beside it), else to the built-in defaults."""
    stored = _stored().get(task) or {}
    preset = teacher_preset(task)["settings"]
    if algorithm(preset) == "maskgit":
        return preset
    if "maskgit_settings" in stored:
        return dict(stored["maskgit_settings"]["settings"])
    return dict(TASKS.get_or_fail(task).teacher_defaults)


def _published(task: str) -> dict:
    """A paper task's published teacher sampler (harness.presets), as sampler settings."""
    from harness.presets import get_preset

    d = get_preset(task).teacher_sampler
    if d.guidance_ramp == "cosine":  # 1d-tokenizer MaskGen_VQ.generate
        return {
            "sampler": "maskgen",
            "guidance_scale": d.guidance,
            "randomize_temperature": d.gumbel_temperature,
            "guidance_decay": "cosine",
            "softmax_temperature_annealing": True,
        }
    # MaskGIT-pytorch v1 `sample`: linear ramp, adap_sche arccos (our "maskgit-v1")
    return {
        "sampler": "maskgit",
        "w": d.guidance,
        "r_temp": d.gumbel_temperature,
        "sm_temp": d.softmax_temperature,
        "schedule": "maskgit-v1",
    }


def build_teacher_sampler(model, tokenizer, steps: int, settings: dict, device="cpu"):
    """(Generator, its config as a dict) for sampler settings; the one place that maps settings to an algorithm."""
    from dataclasses import fields
    from harness.networks.maskgen import MaskGenSampler, MaskGenSamplerConfig
    from methods.teacher_sampler import TeacherSampler, TeacherSamplerConfig

    settings = dict(settings)
    kind = settings.pop("sampler", "maskgit")
    algos = {"maskgit": (TeacherSampler, TeacherSamplerConfig), "maskgen": (MaskGenSampler, MaskGenSamplerConfig)}
    if kind not in algos:
        raise HarnessError(f"unknown sampler {kind!r}; use 'maskgit' or 'maskgen'")
    sampler_cls, cfg_cls = algos[kind]
    known = {f.name for f in fields(cfg_cls)} - {"steps"}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise HarnessError(
            f"sampler {kind!r} has no setting {unknown}; its settings are {sorted(known)} "
            f"(fix the preset in {preset_file()})"
        )
    cfg = cfg_cls(steps=steps, **settings)
    # MaskGIT's is the default algorithm: its description stays as it was (fingerprints of old rows hold)
    return sampler_cls(model, tokenizer, cfg, device=device), (
        {"sampler": kind} if kind != "maskgit" else {}
    ) | cfg.to_dict()


def store_preset(task: str, name: str, settings: dict, evidence: dict) -> Path:
    """Record a task's preset with the sweep that chose it (atomic write)."""
    data = _stored()
    old = data.get(task) or {}
    entry = {"name": name, "settings": settings, "chosen_by": evidence}
    if algorithm(settings) != "maskgit":  # keep the MaskGIT preset SDTT students sample with
        if old and algorithm(old["settings"]) == "maskgit":
            entry["maskgit_settings"] = {"name": old["name"], "settings": old["settings"]}
        elif "maskgit_settings" in old:
            entry["maskgit_settings"] = old["maskgit_settings"]
    data[task] = entry
    write_json(preset_file(), data)
    return preset_file()
