"""Registries: a new method, task or suite is one registered object, not edits in five places.

A method is one `Method` record: its label, how `harness train` trains it and how `harness sample` / `eval`
build its generator. A one-step distiller whose algorithm is one file under methods/ (a `Config` dataclass and
a `Distiller` with `loss(cond, seeds)`) needs no trainer of its own: `distiller="methods.x"` trains it with
harness.trainers.one_step. Methods outside the package register themselves from the modules named in
$FPD_HARNESS_PLUGINS (comma-separated), imported when the command line starts.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from typing import Callable

from harness.config import did_you_mean
from harness.errors import HarnessError
from leaderboards import store as _store


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
            raise HarnessError(
                f"unknown {self.kind} {name!r}{did_you_mean(name, self)}; choose one of: {', '.join(sorted(self))}"
            )
        return self[name]


def resolve(spec: str):
    """The object a 'module:name' spec names, its module imported on first use."""
    mod_name, name = spec.split(":")
    return getattr(importlib.import_module(mod_name), name)


METHODS = Registry("method")
TRAINERS = Registry("trainer")
TASKS = Registry("task")
SUITES = Registry("suite")
SHAPES_TASKS = ("shapes", "shapes-t2i")
ALL_TASKS = ("shapes", "shapes-t2i", "imagenet", "t2i")


@dataclass(frozen=True)
class Trainer:
    """What `harness train NAME` runs: a config dataclass and a train(cfg, out) function, as 'module:Config:fn'
    (imported on first use), or a one-step distiller's methods/ module trained by harness.trainers.one_step."""

    name: str
    spec: str = ""
    tasks: tuple = SHAPES_TASKS
    amp: bool = False  # --precision (bf16 autocast) applies
    shippable: bool = False  # --ship writes the network into the package's assets
    distiller: str = ""

    def load(self):
        """(config dataclass, train function(cfg, out[, ship]))."""
        if self.distiller:  # by name, like every trainer here: the registry imports no trainer
            return importlib.import_module("harness.trainers.one_step").trainer_for(self.name, self.distiller)
        mod_name, cfg_name, fn_name = self.spec.split(":")
        return resolve(f"{mod_name}:{cfg_name}"), resolve(f"{mod_name}:{fn_name}")


@dataclass(frozen=True)
class Method:
    """A generator `harness sample` / `eval` can build, and how `harness train` makes it."""

    name: str
    label: str  # leaderboard rows and tables
    generator: str = "harness.generators:one_step_generator"  # 'module:fn'(method, task, steps, checkpoint, options)
    trainer: str = ""  # 'module:Config:fn' of its trainer ...
    distiller: str = ""  # ... or the methods/ module of a one-step distiller (harness.trainers.one_step)
    tasks: tuple = ALL_TASKS
    default_steps: int = 1  # network evaluations per sample when none is asked
    from_z_init: bool = True  # a one-step student sampled from z_init (r_init, temp, emb_perturb)
    plot_label: str = ""  # figure legends (default: label)
    amp: bool = True  # `harness train --precision bf16` applies to its trainer
    student_file: str = "student"  # what its run folder exports ({steps}: the distilled step count); "" = none
    shippable: bool = False

    def build(self, task: str, steps: int, checkpoint=None, options: dict | None = None):
        return resolve(self.generator)(self.name, task, steps, checkpoint, options)


def register_method(m: Method) -> Method:
    """One line registers a method: its generator and (with trainer= or distiller=) `harness train NAME`."""
    METHODS[m.name] = m
    if m.trainer or m.distiller:
        TRAINERS[m.name] = Trainer(m.name, m.trainer, m.tasks, m.amp, m.shippable, m.distiller)
    return m


def load_trainer(kind: str):
    """(config dataclass, train function) of a registered trainer."""
    return TRAINERS.get_or_fail(kind).load()


def distillers() -> list[str]:
    """The methods whose generator is a trained student (every method but the teacher)."""
    return [name for name, m in METHODS.items() if m.student_file]


def method_label(method: str) -> str:
    return METHODS[method].label if method in METHODS else method


def load_plugins() -> None:
    """Import the modules named in $FPD_HARNESS_PLUGINS, each registering its methods (one-line error if one is
    missing)."""
    for mod in filter(None, (m.strip() for m in os.environ.get("FPD_HARNESS_PLUGINS", "").split(","))):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:
                raise
            raise HarnessError(
                f"FPD_HARNESS_PLUGINS names {mod!r}, which is not importable; put its folder on "
                f"PYTHONPATH or unset the variable"
            ) from None


for _t in (
    Trainer("tokenizer", "harness.trainers.tokenizer:TokenizerTrainConfig:train", ("shapes",), shippable=True),
    Trainer(
        "classifier",
        "harness.trainers.evaluator_nets:ClassifierTrainConfig:train_classifier",
        ("shapes",),
        shippable=True,
    ),
    Trainer(
        "backbone", "harness.trainers.evaluator_nets:BackboneTrainConfig:train_backbone", ("shapes",), shippable=True
    ),
):
    TRAINERS[_t.name] = _t
# One line per method. The teacher trains only on the shapes tasks (paper-scale teachers load official weights),
# and its trainer has its own precision switch (--set amp=).
register_method(
    Method(
        "teacher",
        "Teacher (multistep)",
        "harness.generators:teacher_generator",
        "harness.trainers.teacher:TeacherTrainConfig:train",
        tasks=SHAPES_TASKS,
        default_steps=16,
        from_z_init=False,
        plot_label="Teacher",
        amp=False,
        student_file="",
        shippable=True,
    )
)
register_method(Method("fpd", "FPD", trainer="harness.trainers.fpd:FPDTrainConfig:train"))
register_method(Method("dimo", "DiMO-style", trainer="harness.trainers.dimo:DiMOTrainConfig:train"))
register_method(
    Method(
        "sdtt",
        "SDTT",
        "harness.generators:sdtt_generator",
        "harness.trainers.sdtt:SDTTTrainConfig:train",
        tasks=SHAPES_TASKS,
        default_steps=4,
        from_z_init=False,
        student_file="student_{steps}step",
    )
)


@dataclass(frozen=True)
class Suite:
    """An evaluation suite: its protocol, the task whose generators it scores, how it scores them and what the
    study reads from it. `run` and `identity` are 'module:fn', imported on first use (tables need no torch)."""

    name: str
    protocol: str
    task: str  # the task whose generators it scores
    default_n: int
    run: str  # 'module:fn'(generator, seeds, work_dir, batch, **suite options) -> (metrics, extra)
    headline: str  # the metric figures draw and sweeps choose on
    tables: tuple = ()  # the paper tables whose measured rows it holds
    identity: str = ""  # 'module:fn'() -> what besides the generator decides its outputs (fingerprinted)

    def scorer(self) -> Callable:
        return resolve(self.run)

    def identify(self) -> dict:
        if not self.identity:
            return {}
        return resolve(self.identity)()

    @property
    def better(self):
        """min or max: which way its headline metric improves."""
        from leaderboards.store import LOWER_IS_BETTER

        return min if self.headline in LOWER_IS_BETTER else max


@dataclass(frozen=True)
class Task:
    name: str
    cond: str  # "class" | "text"
    scale: str  # "shapes" | "paper"
    teacher_defaults: dict = field(
        default_factory=dict
    )  # shapes tasks' built-in sampler settings (paper tasks: presets.py)
    description: str = ""


TASKS["shapes"] = Task(
    "shapes",
    "class",
    "shapes",
    {"w": 1.0, "r_temp": 4.5, "schedule": "maskgit-v1"},
    "class-conditional shapes world (24 classes = 4 shapes x 6 colours), 32x32",
)
TASKS["shapes-t2i"] = Task(
    "shapes-t2i",
    "text",
    "shapes",
    {"w": 1.0, "r_temp": 4.5, "schedule": "maskgit-v1"},
    "text-conditional shapes scenes with captions in GenEval's grammar",
)
TASKS["imagenet"] = Task(
    "imagenet", "class", "paper", {}, "ImageNet-256 with the MaskGIT-pytorch v1 teacher (official weights needed)"
)
TASKS["t2i"] = Task("t2i", "text", "paper", {}, "text-to-image with the MaskGen-L teacher (official weights needed)")

# One record per suite; the leaderboard (leaderboards/store.py) learns each name, task and protocol from it.
for _s in (
    Suite(
        "shapes-fid",
        "shapes-fid@1",
        "shapes",
        5000,
        "harness.evaluate:run_shapes_fid",
        "fid",
        (2,),
        "harness.evaluate:shapes_fid_identity",
    ),
    Suite(
        "shapes-geneval",
        "shapes-geneval@1",
        "shapes-t2i",
        4 * 148,
        "harness.evaluate:run_shapes_geneval",
        "overall",
        (1, 3, 4),
        "harness.evaluate:shapes_geneval_identity",
    ),
    Suite("imagenet256", "imagenet256-adm@1", "imagenet", 50_000, "harness.paper_suites:run_imagenet256", "fid", (2,)),
    Suite("geneval", "geneval@1", "t2i", 553 * 4, "harness.paper_suites:run_geneval", "overall", (1, 3, 4)),
):
    SUITES[_s.name] = _s
    _store.SUITES.setdefault(_s.name, _s.task)
    _store.DEFAULT_PROTOCOL.setdefault(_s.name, _s.protocol)
