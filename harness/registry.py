"""Registries: a new method, task or suite is one registered object, not edits in five places."""
from __future__ import annotations

from dataclasses import dataclass, field

from harness.config import did_you_mean
from harness.errors import HarnessError


class Registry(dict):
    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def register(self, name: str):
        def deco(obj):
            self[name] = obj
            return obj
        return deco

    def get_or_fail(self, name: str):
        if name not in self:
            raise HarnessError(f"unknown {self.kind} {name!r}{did_you_mean(name, self)}; choose one of: {', '.join(sorted(self))}")
        return self[name]


METHODS = Registry("method")
TASKS = Registry("task")
SUITES = Registry("suite")


@dataclass(frozen=True)
class Task:
    name: str
    cond: str                          # "class" | "text"
    scale: str                         # "shapes" | "paper"
    teacher_defaults: dict = field(default_factory=dict)   # shapes tasks' built-in sampler settings (paper tasks: presets.py)
    description: str = ""


TASKS["shapes"] = Task("shapes", "class", "shapes", {"w": 1.0, "r_temp": 4.5, "schedule": "maskgit-v1"},
                       "class-conditional shapes world (24 classes = 4 shapes x 6 colours), 32x32")
TASKS["shapes-t2i"] = Task("shapes-t2i", "text", "shapes", {"w": 1.0, "r_temp": 4.5, "schedule": "maskgit-v1"},
                           "text-conditional shapes scenes with captions in GenEval's grammar")
TASKS["imagenet"] = Task("imagenet", "class", "paper", {},
                         "ImageNet-256 with the MaskGIT-pytorch v1 teacher (official weights needed)")
TASKS["t2i"] = Task("t2i", "text", "paper", {}, "text-to-image with the MaskGen-L teacher (official weights needed)")
