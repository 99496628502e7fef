"""`harness diagnose fixed-point` (and `ceiling`, `geneval-failures`, `teacher-loss` in their own files): is the data a fixed point of FPD's target operator T^r∘M_r?

The paper's Eq. 3 asks the student's distribution to be a fixed point of the teacher refinement
T^r∘M_r (re-mask at r ~ π, one teacher step). If held-out *data* drifts under that operator, no
student can both match the data and be its fixed point: the drift measured here is a bias of the
teacher and the operator, not of FPD's training. We tokenise held-out renders, apply the exact
operator FPD uses for its targets (`methods.fpd.FPD.target_tokens`, every FPD option a flag) k
times, and report FID on the evaluation classifier's features and the object statistics of the
exact detector (mean area, centre spread), beside the data's own values.
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


def parse_variant(spec: str) -> tuple[str, dict]:
    """'name:key=val,key=val' (or 'key=val,...', named after itself) -> (name, overrides)."""
    from harness.config import apply_overrides
    from harness.trainers.fpd import FPDTrainConfig
    name, _, body = spec.rpartition(":") if ":" in spec else (spec, "", spec)
    items = [x for x in body.split(",") if x]
    cfg = apply_overrides(FPDTrainConfig.preset("shapes"), items)   # one-line errors for unknown keys / types
    base = FPDTrainConfig.preset("shapes")
    return name or body, {f.name: getattr(cfg, f.name) for f in fields(cfg) if getattr(cfg, f.name) != getattr(base, f.name)}


def _stats(images_u8: torch.Tensor, ext, ref: dict) -> dict:
    from evaluators import fid_from_features
    from evaluators.shapes_stats import object_stats
    feats = ext(images_u8)["pool"].numpy().astype(np.float64)
    return {"fid": fid_from_features(ref["pool"], feats), **object_stats(images_u8.permute(0, 2, 3, 1).numpy())}


@torch.no_grad()
def fixed_point(task: str = "shapes", ks: tuple[int, ...] = (1, 3, 12), n: int = 2000,
                variants: dict[str, dict] | None = None, batch: int = 250, seed: int = 0) -> dict:
    from harness.evaluate import _classifier, shapes_reference
    from harness.generators import network_ids, shapes_networks
    from harness.tasks.shapes_data import class_dataset, to_float
    from harness.trainers.fpd import FPDTrainConfig
    from methods.fpd import FPD
    from methods.interfaces import to_uint8
    from methods.rng import SeedStreams
    if task != "shapes":
        raise HarnessError(f"diagnose fixed-point measures the class task only (FID needs class renders); use --task shapes, not {task!r}")
    if n < 2 or min(ks) < 1:
        raise HarnessError("--n must be >= 2 and every --k >= 1")
    variants = variants or DEFAULT_VARIANTS
    teacher, tok = shapes_networks(task)
    ext = _classifier()
    ref = shapes_reference(ext)
    imgs, labels = class_dataset(n, "heldout")     # never seen by teacher, tokenizer or classifier
    codes = torch.cat([tok.encode(to_float(imgs[i:i + batch])) for i in range(0, n, batch)])

    def decode(z: torch.Tensor) -> torch.Tensor:
        return torch.cat([to_uint8(tok.decode(z[i:i + batch], labels[i:i + batch])) for i in range(0, n, batch)])

    rows = [{"variant": "data (held-out renders)", "k": 0, **_stats(imgs, ext, ref)},
            {"variant": "data, tokenised (decode(encode(x)))", "k": 0, **_stats(decode(codes), ext, ref)}]
    for name, overrides in variants.items():
        cfg = replace(FPDTrainConfig.preset(task), **overrides)
        fpd = FPD(None, teacher, tok, None, cfg.fpd())
        z = codes.clone()
        changed = []
        for k in range(1, max(ks) + 1):
            new = []
            for i in range(0, n, batch):
                seeds = [seed + 1_000_000 * k + j for j in range(i, min(i + batch, n))]  # fresh randomness per application
                new.append(fpd.target_tokens(z[i:i + batch], labels[i:i + batch], SeedStreams(seeds)))
            new = torch.cat(new)
            changed.append(float((new != z).float().mean()))
            z = new
            if k in ks:
                rows.append({"variant": name, "k": k, "options": overrides, "token_changed_last": changed[-1],
                             **_stats(decode(z), ext, ref)})
    return {"task": task, "n": n, "ks": list(ks), "networks": network_ids(task),
            "operator": "methods.fpd.FPD.target_tokens (re-mask at r ~ π, one teacher step)",
            "reference": "5000 held-out renders (split 'eval'); FID of n samples is biased upward at small n",
            "rows": rows}


def format_table(result: dict) -> str:
    head = "| operator | k | FID | mean area (px) | centre spread (px) | no object | tokens changed (last step) |"
    lines = [head, "|" + "---|" * 7]
    for r in result["rows"]:
        ch = r.get("token_changed_last")
        lines.append(f"| {r['variant']} | {r['k']} | {r['fid']:.1f} | {r['mean_area']:.1f} | {r['centre_spread']:.2f} | "
                     f"{r['empty_frac']:.3f} | {'-' if ch is None else f'{ch:.3f}'} |")
    return "\n".join(lines)


def register(app) -> None:
    import typer
    diag = typer.Typer(help="Diagnostics of teachers and operators.", no_args_is_help=True)

    @diag.command("fixed-point")
    def fixed_point_cmd(
        task: str = typer.Option("shapes", help="the class task (shapes)"),
        k: str = typer.Option("1,3,12", help="numbers of operator applications to report, comma-separated"),
        n: int = typer.Option(2000, help="held-out data samples"),
        variant: list[str] = typer.Option([], help="operator variant 'name:key=val,...' over FPD's options "
                                                   "(repeatable; default: fpd-default, remask=arccos, teacher_w=0, target=reveal)"),
        out: Path = typer.Option(Path("runs/diagnose/fixed-point.json"), help="JSON file for the table"),
    ):
        """Apply FPD's target operator k times to held-out data tokens; report FID, object area and centre spread."""
        try:
            ks = tuple(sorted({int(x) for x in k.split(",")}))
        except ValueError:
            raise HarnessError(f"--k {k!r} must be integers like 1,3,12") from None
        variants = dict(parse_variant(v) for v in variant) if variant else None
        result = fixed_point(task, ks, n, variants)
        write_json(out, result)
        typer.echo(format_table(result))
        typer.echo(f"wrote {out}")

    @diag.command("ceiling")
    def ceiling_cmd(
        task: str = typer.Option("shapes-t2i", help="shapes-t2i (the shapes-geneval prompts) or shapes (class renders)"),
        images_per_prompt: int = typer.Option(4, help="shapes-t2i: held-out layouts per prompt"),
        n: int = typer.Option(2000, help="shapes: held-out class renders"),
        prompts: int = typer.Option(None, help="shapes-t2i: only the first N prompts of the set (default: all)"),
        out: Path = typer.Option(Path("runs/diagnose/ceiling.json"), help="JSON file for the table"),
    ):
        """Score ground-truth renders and their tokeniser reconstructions: the ceiling of every generator of the suite."""
        from harness import diagnose_ceiling as C
        result = C.ceiling(task, images_per_prompt, n, prompts)
        write_json(out, result)
        typer.echo(C.format_table(result))
        typer.echo(f"wrote {out}")

    @diag.command("geneval-failures")
    def geneval_failures_cmd(
        method: str = typer.Option("teacher", help="teacher, fpd, dimo or sdtt"),
        steps: int = typer.Option(16, help="sampling steps"),
        checkpoint: Path = typer.Option(None, help="a run folder (default: the shipped network)"),
        seeds: str = typer.Option("1000000-1000591", help="seed range; validation seeds (>= 1000000) cycle the prompts"),
        out: Path = typer.Option(Path("runs/diagnose/geneval-failures.json"), help="JSON file for the table"),
    ):
        """Sort a generator's failing shapes-geneval images by the first rule they break, per tag."""
        from harness import diagnose_failures as F
        result = F.geneval_failures(method, steps, checkpoint, seeds)
        write_json(out, result)
        typer.echo(F.format_table(result))
        typer.echo(f"wrote {out}")

    @diag.command("teacher-loss")
    def teacher_loss_cmd(
        task: str = typer.Option("shapes-t2i", help="shapes or shapes-t2i"),
        checkpoint: list[Path] = typer.Option([], help="teacher run folders (repeatable; default: the shipped teacher)"),
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
        write_json(out, result)
        typer.echo(TL.format_table(result))
        typer.echo(f"wrote {out}")

    app.add_typer(diag, name="diagnose")


def load(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())
