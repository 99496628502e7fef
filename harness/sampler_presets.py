"""Named teacher-sampler presets per task: the one place that decides how a task's teacher samples.

Like MaskGIT's published sampler settings, a preset fixes guidance w (and its ramp), sm_temp, the
Gumbel temperature r_temp and the schedule. Shapes presets are chosen by `harness sweep teacher`
on validation seeds disjoint from the reported ones and stored, with the sweep's table and the
command that made it, in `harness/assets/teacher_sampler_presets.json`. A task without a stored
preset uses its built-in defaults (`harness.registry.TASKS[task].teacher_defaults`), named
"<task>-builtin". Every teacher row records the preset's name and settings.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from harness.io import write_json
from harness.registry import TASKS

PRESET_FILE = Path(__file__).parent / "assets" / "teacher_sampler_presets.json"
VALIDATION_SEED_BASE = 1_000_000   # sweeps score seeds >= this; reported rows use seeds below it


def preset_file() -> Path:
    """The shipped preset file, or $FPD_SAMPLER_PRESETS (a user's own file; tests use a temporary one)."""
    env = os.environ.get("FPD_SAMPLER_PRESETS")
    return Path(env) if env else PRESET_FILE


def _stored() -> dict:
    f = preset_file()
    return json.loads(f.read_text()) if f.exists() else {}


def teacher_preset(task: str) -> dict:
    """{"name", "settings"} of the task's teacher sampler (TeacherSamplerConfig fields except steps)."""
    stored = _stored().get(task)
    if stored:
        return {"name": stored["name"], "settings": dict(stored["settings"])}
    return {"name": f"{task}-builtin", "settings": dict(TASKS.get_or_fail(task).teacher_defaults)}


def store_preset(task: str, name: str, settings: dict, evidence: dict) -> Path:
    """Record a task's preset with the sweep that chose it (atomic write)."""
    data = _stored()
    data[task] = {"name": name, "settings": settings, "chosen_by": evidence}
    write_json(preset_file(), data)
    return preset_file()
