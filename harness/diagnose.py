"""`harness diagnose fixed-point` (and `ceiling`, `geneval-failures`, `teacher-loss` in their own files): is the data
a fixed point of FPD's target operator T^r∘M_r?

The paper's Eq. 3 asks the student's distribution to be a fixed point of the teacher refinement
T^r∘M_r (re-mask at r ~ π, one teacher step). If held-out *data* drifts under that operator, no
student can both match the data and be its fixed point: the drift measured here is a bias of the
teacher and the operator, not of FPD's training. We tokenise held-out renders, apply the exact
operator FPD uses for its targets (`methods.fpd.FPD.target_tokens`, every FPD option a flag) k
times, and report FID on the evaluation classifier's features and the object statistics of the
exact detector (mean area, centre spread), beside the data's own values; on the text task, the
GenEval rules. Started from a student's one-step drafts instead (`--start student`), the same table
says how much better than the draft the target is that FPD trains toward: its learning signal.
"""

from __future__ import annotations

import json
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import torch

from harness.errors import HarnessError
from harness.io import write_json

# The operator variants the table shows by default: today's FPD target and alternatives to it.
DEFAULT_VARIANTS = {
    "fpd-default": {},
    "remask=arccos": {"remask": "arccos"},
    "teacher_w=0": {"teacher_w": 0.0},
    "target=reveal": {"target": "reveal"},
}


def parse_variant(spec: str, task: str = "shapes") -> tuple[str, dict]:
    """'name:key=val,key=val' (or 'key=val,...', named after itself) -> (name, overrides)."""
    from harness.config import apply_overrides
    from harness.trainers.fpd import FPDTrainConfig

    name, _, body = spec.rpartition(":") if ":" in spec else (spec, "", spec)
    items = [x for x in body.split(",") if x]
    base = FPDTrainConfig.preset(task)
    cfg = apply_overrides(base, items)  # one-line errors for unknown keys / types
    return name or body, {
        f.name: getattr(cfg, f.name) for f in fields(cfg) if getattr(cfg, f.name) != getattr(base, f.name)
    }


def _stats(images_u8: torch.Tensor, ext, ref: dict, labels: torch.Tensor) -> dict:
    """FID and object statistics, and whether each image shows its class (a target of the wrong class is FPD
    training its student toward the wrong class, whatever its FID)."""
    from evaluators import fid_from_features
    from evaluators.shapes_stats import object_stats
    from harness.evaluate import _class_correct

    out = ext(images_u8)
    hwc = images_u8.permute(0, 2, 3, 1).numpy()
    return {
        "fid": fid_from_features(ref["pool"], out["pool"].numpy().astype(np.float64)),
        **object_stats(hwc),
        "detector_correct": float(np.mean([_class_correct(im, int(c)) for im, c in zip(hwc, labels)])),
        "classifier_accuracy": float((out["logits"].argmax(-1) == labels).float().mean()),
    }


def _start_tokens(task: str, start: str, n: int, checkpoint, tok, batch: int):
    """(start tokens, conditions, prompt metadata or None, start rows' images) for n held-out conditions.

    start="data": held-out renders, tokenised (the images are the renders themselves); "student": one-step
    drafts of a distilled student for the same conditions (validation seeds), the images are their decodings."""
    from harness.evaluate import prompt_index
    from harness.sampler_presets import VALIDATION_SEED_BASE
    from harness.tasks import shapes as S
    from harness.tasks.shapes_data import class_dataset, seed_of, to_float, to_tensor

    seeds = list(range(VALIDATION_SEED_BASE, VALIDATION_SEED_BASE + n))  # a student's own draft randomness
    metas = None
    if task == "shapes":
        imgs, cond = class_dataset(n, "heldout")  # never seen by teacher, tokenizer or classifier
    else:  # the suite's prompts as validation seeds cycle them (4 images each); held-out layouts for the data
        prompts = S.prompt_set()
        metas = [prompts[prompt_index(s, len(prompts))] for s in seeds]
        cond = torch.from_numpy(np.stack([S.encode_caption(m["prompt"]) for m in metas]))
        imgs = (
            to_tensor([S.scene_for(m, seed_of("heldout", i)).image for i, m in enumerate(metas)])
            if start == "data"
            else None
        )
    if start == "data":
        return torch.cat([tok.encode(to_float(imgs[i : i + batch])) for i in range(0, n, batch)]), cond, metas, imgs
    from harness.generators import build_generator
    from methods.rng import SeedStreams

    gen = build_generator("fpd", task, 1, checkpoint)
    z = torch.cat([gen.draft(cond[i : i + batch], SeedStreams(seeds[i : i + batch]))[1] for i in range(0, n, batch)])
    return z, cond, metas, None


@torch.no_grad()
def fixed_point(
    task: str = "shapes",
    ks: tuple[int, ...] = (1, 3, 12),
    n: int = 2000,
    variants: dict[str, dict] | None = None,
    batch: int = 250,
    seed: int = 0,
    start: str = "data",
    checkpoint=None,
) -> dict:
    """Apply FPD's target operator k times to start tokens: held-out data (is the data a fixed point?) or a
    student's one-step drafts (how much better than the draft is the target FPD trains toward?). Scored by the
    task's suite: FID and object statistics (shapes), GenEval overall and tags (shapes-t2i)."""
    from harness.generators import network_ids, shapes_networks
    from harness.trainers.fpd import FPDTrainConfig
    from methods.fpd import FPD
    from methods.interfaces import to_uint8
    from methods.rng import SeedStreams

    if task not in ("shapes", "shapes-t2i"):
        raise HarnessError(
            f"diagnose fixed-point runs on the shapes tasks; use --task shapes or shapes-t2i, not {task!r}"
        )
    if start not in ("data", "student"):
        raise HarnessError(f"--start {start!r}: use data (held-out renders) or student (a student's one-step drafts)")
    if (start == "student") != (checkpoint is not None):
        raise HarnessError(
            "--start student needs --checkpoint (a distilled student or its run folder), and only it does"
        )
    if n < 2 or min(ks) < 1:
        raise HarnessError("--n must be >= 2 and every --k >= 1")
    variants = variants or DEFAULT_VARIANTS
    teacher, tok = shapes_networks(task)
    codes, cond, metas, imgs = _start_tokens(task, start, n, checkpoint, tok, batch)
    if task == "shapes":
        from harness.evaluate import _classifier, shapes_reference

        ext = _classifier()
        ref = shapes_reference(ext)

        def stats(images_u8: torch.Tensor) -> dict:
            return _stats(images_u8, ext, ref, cond)
    else:
        from harness.diagnose_ceiling import _geneval_rows

        def stats(images_u8: torch.Tensor) -> dict:
            return _geneval_rows(images_u8.permute(0, 2, 3, 1).numpy(), metas)[0]

    def decode(z: torch.Tensor) -> torch.Tensor:
        return torch.cat([to_uint8(tok.decode(z[i : i + batch], cond[i : i + batch])) for i in range(0, n, batch)])

    if start == "data":
        rows = [
            {"variant": "data (held-out renders)", "k": 0, **stats(imgs)},
            {"variant": "data, tokenised (decode(encode(x)))", "k": 0, **stats(decode(codes))},
        ]
    else:
        rows = [{"variant": "student draft (1 step)", "k": 0, **stats(decode(codes))}]
    for name, overrides in variants.items():
        cfg = replace(FPDTrainConfig.preset(task), **overrides)
        fpd = FPD(None, teacher, tok, None, cfg.fpd())
        z = codes.clone()
        changed = []
        for k in range(1, max(ks) + 1):
            new = []
            for i in range(0, n, batch):
                seeds = [
                    seed + 1_000_000 * k + j for j in range(i, min(i + batch, n))
                ]  # fresh randomness per application
                new.append(fpd.target_tokens(z[i : i + batch], cond[i : i + batch], SeedStreams(seeds)))
            new = torch.cat(new)
            changed.append(float((new != z).float().mean()))
            z = new
            if k in ks:
                rows.append(
                    {
                        "variant": name,
                        "k": k,
                        "options": overrides,
                        "token_changed_last": changed[-1],
                        **stats(decode(z)),
                    }
                )
    networks = network_ids(task)
    if start == "student":
        networks["student"] = str(checkpoint)
    return {
        "task": task,
        "start": start,
        "n": n,
        "ks": list(ks),
        "networks": networks,
        "operator": "methods.fpd.FPD.target_tokens (re-mask at r ~ π, one teacher step)",
        "reference": (
            "5000 held-out renders (split 'eval'); FID of n samples is biased upward at small n"
            if task == "shapes"
            else "shapes-geneval rules and prompts (4 images each, cycled)"
        ),
        "rows": rows,
    }


def format_table(result: dict) -> str:
    text = result.get("task") == "shapes-t2i"
    head = (
        "| operator | k | overall | two objects | position | color attr. | objects per asked | tokens changed "
        "(last step) |"
        if text
        else "| operator | k | FID | detector-correct | classifier acc. | mean area (px) | centre spread (px) "
        "| no object | tokens changed (last step) |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in result["rows"]:
        ch = r.get("token_changed_last")
        cells = (
            [f"{r[t]:.3f}" if t in r else "-" for t in ("overall", "two_object", "position", "color_attr")]
            + [f"{r['objects_per_asked']:.2f}"]
            if text
            else [f"{r['fid']:.1f}"]
            + [f"{r[c]:.3f}" if c in r else "-" for c in ("detector_correct", "classifier_accuracy")]
            + [f"{r['mean_area']:.1f}", f"{r['centre_spread']:.2f}", f"{r['empty_frac']:.3f}"]
        )
        lines.append(
            f"| {r['variant']} | {r['k']} | " + " | ".join(cells) + f" | {'-' if ch is None else f'{ch:.3f}'} |"
        )
    return "\n".join(lines)


def _report(result: dict, table: str, out: Path) -> None:
    """Every diagnose command ends the same way: the JSON written, its table printed, where it went."""
    import typer

    write_json(out, result)
    typer.echo(table)
    typer.echo(f"wrote {out}")


def register(app) -> None:
    import typer

    diag = typer.Typer(help="Diagnostics of teachers and operators.", no_args_is_help=True)

    @diag.command("fixed-point")
    def fixed_point_cmd(
        task: str = typer.Option(
            "shapes", help="shapes (scored by FID and object statistics) or shapes-t2i (GenEval rules)"
        ),
        k: str = typer.Option("1,3,12", help="numbers of operator applications to report, comma-separated"),
        n: int = typer.Option(2000, help="held-out conditions (shapes-t2i: the prompts cycled, 4 images each)"),
        start: str = typer.Option("data", help="data (held-out renders, tokenised) or student (its one-step drafts)"),
        checkpoint: Path = typer.Option(None, help="--start student: a distilled student (file or run folder)"),
        variant: list[str] = typer.Option(
            [],
            help="operator variant 'name:key=val,...' over FPD's options "
            "(repeatable; default: fpd-default, remask=arccos, teacher_w=0, target=reveal)",
        ),
        out: Path = typer.Option(Path("runs/diagnose/fixed-point.json"), help="JSON file for the table"),
    ):
        """Apply FPD's target operator k times to held-out data tokens (or a student's drafts); score each result."""
        try:
            ks = tuple(sorted({int(x) for x in k.split(",")}))
        except ValueError:
            raise HarnessError(f"--k {k!r} must be integers like 1,3,12") from None
        variants = dict(parse_variant(v, task) for v in variant) if variant else None
        result = fixed_point(task, ks, n, variants, start=start, checkpoint=checkpoint)
        _report(result, format_table(result), out)

    @diag.command("ceiling")
    def ceiling_cmd(
        task: str = typer.Option(
            "shapes-t2i", help="shapes-t2i (the shapes-geneval prompts) or shapes (class renders)"
        ),
        images_per_prompt: int = typer.Option(4, help="shapes-t2i: held-out layouts per prompt"),
        n: int = typer.Option(2000, help="shapes: held-out class renders"),
        prompts: int = typer.Option(None, help="shapes-t2i: only the first N prompts of the set (default: all)"),
        out: Path = typer.Option(Path("runs/diagnose/ceiling.json"), help="JSON file for the table"),
    ):
        """Score ground-truth renders and their tokeniser reconstructions: the ceiling of every generator of the
        suite."""
        from harness import diagnose_ceiling as C

        result = C.ceiling(task, images_per_prompt, n, prompts)
        _report(result, C.format_table(result), out)

    @diag.command("geneval-failures")
    def geneval_failures_cmd(
        method: str = typer.Option("teacher", help="teacher, fpd, dimo or sdtt"),
        steps: int = typer.Option(16, help="sampling steps"),
        checkpoint: Path = typer.Option(None, help="a run folder (default: the shipped network)"),
        seeds: str = typer.Option(
            "1000000-1000591", help="seed range; validation seeds (>= 1000000) cycle the prompts"
        ),
        out: Path = typer.Option(Path("runs/diagnose/geneval-failures.json"), help="JSON file for the table"),
    ):
        """Sort a generator's failing shapes-geneval images by the first rule they break, per tag."""
        from harness import diagnose_failures as F

        result = F.geneval_failures(method, steps, checkpoint, seeds)
        _report(result, F.format_table(result), out)

    @diag.command("teacher-loss")
    def teacher_loss_cmd(
        task: str = typer.Option("shapes-t2i", help="shapes or shapes-t2i"),
        checkpoint: list[Path] = typer.Option(
            [], help="teacher run folders (repeatable; default: the shipped teacher)"
        ),
        n: int = typer.Option(2048, help="training and held-out samples each"),
        ratios: str = typer.Option("0.3,0.6,0.9", help="mask ratios, comma-separated"),
        out: Path = typer.Option(Path("runs/diagnose/teacher-loss.json"), help="JSON file for the table"),
    ):
        """Masked cross-entropy on training vs held-out samples at fixed mask ratios: underfitting or memorising?"""
        from harness import diagnose_teacher_loss as TL

        try:
            rs = tuple(float(x) for x in ratios.split(","))
        except ValueError:
            raise HarnessError(f"--ratios {ratios!r} must be numbers like 0.3,0.6,0.9") from None
        result = TL.teacher_loss(task, list(checkpoint), n, rs)
        _report(result, TL.format_table(result), out)

    app.add_typer(diag, name="diagnose")


def load(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())
