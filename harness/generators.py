"""Build a method's Generator for a task: the `teacher` sampler or a distilled student checkpoint.

Each harness.registry.Method names its builder here; `harness sample` and `harness eval` only go through
build_generator.
"""

from __future__ import annotations

from pathlib import Path

from harness import distributed as D
from harness.errors import HarnessError
from harness.io import runs_root
from harness.registry import METHODS, TASKS
from methods.fpd import OneStepStudent


class OnHost:
    """A Generator whose uint8 images come back on the CPU wherever it samples: suites, grids and training
    statistics read them with numpy. Everything else (describe, steps, ...) is the wrapped generator's."""

    def __init__(self, gen):
        self.gen = gen

    def generate(self, cond, seeds):
        return self.gen.generate(cond, seeds).cpu()

    def __getattr__(self, name: str):
        if name == "gen":
            raise AttributeError(name)
        return getattr(self.gen, name)


def default_checkpoint(method: str, task: str) -> Path:
    return runs_root() / f"{method}-{task}" / "student"


def shapes_networks(task: str):
    from harness.trainers.teacher import load_shipped as load_teacher
    from harness.trainers.tokenizer import load_shipped as load_tokenizer

    return load_teacher(task), load_tokenizer()


def network_ids(task: str) -> dict:
    """Identity of the frozen networks a task's generators are built on (part of every fingerprint)."""
    t = TASKS.get_or_fail(task)
    if t.scale == "shapes":
        from harness.assets import TEACHER_ASSETS, asset_sha256

        return {"teacher": asset_sha256(TEACHER_ASSETS[task]), "tokenizer": asset_sha256("shapes_vq")}
    from harness.presets import file_record, get_preset

    preset = get_preset(task)
    return {
        w.key: {**file_record(preset.path(w.key)), "sha256": w.sha256} for w in preset.weights if w.purpose == "train"
    }


def _networks(task: str):
    """(teacher, tokenizer) on D.device(), bare: wrap with D.amp only after loading weights into them."""
    t = TASKS.get_or_fail(task)
    if t.scale == "shapes":
        teacher, tok = shapes_networks(task)
        return teacher.to(D.device()), tok.to(D.device())
    from harness.trainers.paper_scale import paper_networks  # official weights, GPU machines

    return paper_networks(task)


def _exported_student(run: Path) -> Path:
    """The student a run folder exported (`student`; SDTT's one `student_<k>step`), without its suffix."""
    found = sorted(p.stem for p in run.glob("student*.safetensors") if p.stem != "student_raw")
    if "student" in found or len(found) == 1:
        return run / ("student" if "student" in found else found[0])
    names = ", ".join(f"{n}.safetensors" for n in found) or "no exported student (is training finished?)"
    raise HarnessError(f"{run} holds {names}; pass one file as --checkpoint {run}/<name>.safetensors")


def _load_student(method: str, task: str, checkpoint: str | Path | None):
    from harness.io import load_weights

    path = Path(checkpoint) if checkpoint else default_checkpoint(method, task)
    if path.is_dir():  # a `harness train` run folder: its exported student
        path = _exported_student(path)
    if not path.with_suffix(".safetensors").exists():
        raise HarnessError(
            f"no {method} checkpoint at {path.with_suffix('.safetensors')}; "
            f"train one with `harness train {method} --task {task}` or pass --checkpoint"
        )
    sd, meta = load_weights(path)
    teacher, tok = _networks(task)
    if meta.get("config", {}).get("method") not in (None, method):
        raise HarnessError(f"{path} is a {meta['config']['method']} checkpoint, not {method}; pass the right --method")
    try:
        teacher.load_state_dict(sd)
    except RuntimeError as e:
        raise HarnessError(f"{path} does not match the {task} teacher's architecture ({str(e).splitlines()[0]})") from e
    return teacher.eval(), tok, meta, path


def teacher_generator(method: str, task: str, steps: int = 16, checkpoint=None, options: dict | None = None):
    from harness.sampler_presets import build_teacher_sampler, settings_for, teacher_preset

    networks = network_ids(task)
    if checkpoint is None:
        teacher, tok = _networks(task)
    else:  # a teacher run folder, scored before it is shipped (with the shipped preset)
        if TASKS.get_or_fail(task).scale != "shapes":
            raise HarnessError(
                "--checkpoint with --method teacher takes a shapes teacher run folder; paper-scale "
                "teachers load from their preset's weights"
            )
        from harness.trainers.teacher import load_run
        from harness.trainers.tokenizer import load_shipped as load_tokenizer

        tok = load_tokenizer()
        teacher, run = load_run(task, checkpoint, tok)
        teacher, tok = teacher.to(D.device()), tok.to(D.device())
        networks = {**networks, "teacher": run["sha256"], "teacher_run": run}
    preset = teacher_preset(task)
    gen, sampler = build_teacher_sampler(
        D.amp(teacher, task), D.amp(tok, task), steps, settings_for(preset["settings"], options), device=D.device()
    )
    name = preset["name"] + ("+overrides" if options else "")
    gen.describe = {
        "method": "teacher",
        "steps": steps,
        "sampler": sampler,
        "sampler_preset": name,
        "networks": networks,
    }
    return gen


def one_step_generator(method: str, task: str, steps: int = 1, checkpoint=None, options: dict | None = None):
    """A distilled one-step student (FPD, DiMO, any harness.trainers.one_step distiller) sampled from z_init
    as it was trained."""
    if steps != 1:
        raise HarnessError(f"{method} is a one-step generator; use --steps 1 (got {steps})")
    student, tok, meta, path = _load_student(method, task, checkpoint)
    train = meta["config"]["train"]
    temp = (options or {}).get("temp", train.get("student_temp", train.get("gen_temp", 1.0)))
    gen = OneStepStudent(
        D.amp(student, task),
        D.amp(tok, task),
        r_init=train["r_init"],
        temp=temp,
        emb_perturb=train.get("emb_perturb", 0.0),
        device=D.device(),
    )
    gen.describe = {
        "method": method,
        "steps": 1,
        "checkpoint": str(path),
        "checkpoint_sha256": meta["sha256"],
        "sampling": {"r_init": train["r_init"], "temp": temp, "emb_perturb": train.get("emb_perturb", 0.0)},
        "networks": network_ids(task),
        "train": train,
        "costs": meta.get("costs"),
    }
    return gen


def sdtt_generator(method: str, task: str, steps: int = 4, checkpoint=None, options: dict | None = None):
    """SDTT students sample with the teacher's MaskGIT multistep sampler at their distilled step count."""
    ck = checkpoint or (runs_root() / f"sdtt-{task}" / f"student_{steps}step")
    student, tok, meta, path = _load_student("sdtt", task, ck)
    from harness.sampler_presets import build_teacher_sampler, maskgit_settings

    hint = meta.get("sampler_hint") or meta.get("config", {}).get("sampler_hint") or {}  # the grid it was distilled on
    gen, sampler = build_teacher_sampler(
        D.amp(student, task),
        D.amp(tok, task),
        steps,
        {**maskgit_settings(task), **hint, **(options or {})},
        device=D.device(),
    )
    gen.describe = {
        "method": "sdtt",
        "steps": steps,
        "checkpoint": str(path),
        "checkpoint_sha256": meta["sha256"],
        "sampler": sampler,
        "networks": network_ids(task),
        "costs": meta.get("costs"),
    }
    return gen


def build_generator(method: str, task: str, steps: int, checkpoint=None, options: dict | None = None):
    if steps < 1:
        raise HarnessError(f"--steps must be >= 1, got {steps}")
    m = METHODS.get_or_fail(method)
    TASKS.get_or_fail(task)
    gen = m.build(task, steps, checkpoint, options)
    if D.precision(task) == "bf16":  # another arithmetic, another generator: it enters the fingerprint
        gen.describe = {**getattr(gen, "describe", {}), "precision": "bf16"}
    return OnHost(gen)
