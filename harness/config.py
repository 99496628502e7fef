"""Config dataclasses: named presets plus `--set key=value` overrides, resolved and saved with every run."""

from __future__ import annotations

import dataclasses
import difflib
import json
from typing import Any

from harness.errors import HarnessError


def did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def task_defaults(cls, task: str):
    """A trainer config's starting point for a task: its `preset` where it has one (FPD: the paper's values at
    paper scale), else the dataclass defaults. `harness train`, `harness sweep` and `harness reproduce` share it."""
    return cls.preset(task) if hasattr(cls, "preset") else cls(task=task)


def apply_overrides(cfg, overrides: list[str] | None):
    """Return a copy of dataclass `cfg` with `key=value` overrides parsed by the field's type."""
    if not overrides:
        return cfg
    fields = {f.name: f for f in dataclasses.fields(cfg)}
    changes: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise HarnessError(f"override {item!r} is not key=value; e.g. --set lr=1e-4")
        key, raw = item.split("=", 1)
        if key not in fields:
            raise HarnessError(f"unknown config key {key!r}{did_you_mean(key, fields)}; keys: {', '.join(fields)}")
        current = getattr(cfg, key)
        try:
            if isinstance(current, bool):
                if raw.lower() not in ("true", "false", "1", "0"):
                    raise ValueError
                val: Any = raw.lower() in ("true", "1")
            elif isinstance(current, (tuple, list)):
                val = tuple(json.loads(raw if raw.startswith("[") else f"[{raw}]"))
            elif current is None:
                val = json.loads(raw)
            else:
                val = type(current)(raw)
        except (ValueError, json.JSONDecodeError):
            raise HarnessError(f"cannot parse {key}={raw!r} as {type(current).__name__}")
        changes[key] = val
    return dataclasses.replace(cfg, **changes)


def to_dict(cfg) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=list))
