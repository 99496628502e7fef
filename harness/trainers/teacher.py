"""`harness train teacher --task shapes|shapes-t2i`: the MaskGIT-style shapes teachers.

Objective: the paper's Eq. 2, cross-entropy on masked positions, with MaskGIT-pytorch v1's
per-sample arccos masking (r ~ U(0,1), p_mask = arccos(r)/(π/2), Bernoulli per token), label
smoothing 0.1 and 10 % condition dropout to the null class / empty caption (`Trainer/vit.py`:
`get_mask_code`, `train_one_epoch`; `main.py --drop-label 0.1`).

Second-wave recipe (what changed from the first wave, all recorded in the shipped asset's JSON):
width 192 (from 128) and batch 128 (from 96), as the calibration prototype that drew the world;
4,000 steps; a cosine decay of the lr after the warm-up (MaskGIT-pytorch v1 keeps it constant;
a decay is what a fixed budget wants); bf16 autocast on the CPU (1.5x faster here, fp32 master
weights and optimizer state); more training scenes for the text task, whose data is combinatorial.
The objective itself is unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F

from harness import assets
from harness import distributed as D
from harness.config import to_dict
from harness.networks.shapes_transformer import ShapesMaskTransformer, TransformerConfig
from harness.tasks import shapes as S
from harness.tasks.shapes_data import class_dataset, scene_dataset, to_float
from harness.train_loop import TrainLoop, step_generator, unwrap
from harness.trainers.tokenizer import load_shipped as load_tokenizer
from methods.dimo import EMA


@dataclass(frozen=True)
class TeacherTrainConfig:
    task: str = "shapes"  # "shapes" (class-conditional) | "shapes-t2i" (captions)
    steps: int = 4000
    batch: int = 128
    lr: float = 8e-4
    weight_decay: float = 1e-5  # MaskGIT-pytorch v1 AdamW settings
    betas: tuple = (0.9, 0.96)
    warmup: int = 200
    grad_clip: float = 1.0
    label_smoothing: float = 0.1
    cond_drop: float = 0.1
    n_train: int = 48000
    width: int = 192
    depth: int = 4
    heads: int = 4
    lr_schedule: str = "cosine"  # "constant" (MaskGIT-pytorch v1) | "cosine" (decay to lr_min_ratio after warm-up)
    lr_min_ratio: float = 0.1
    amp: str = "bf16"  # "bf16" autocast | "none" (fp32)
    compile: bool = False  # torch.compile the training forward: 0.78 vs 0.93 s/step on the 2-core CPU
    # (192x4, batch 128, text); off by default (needs a C++ compiler, ~30 s warm-up)
    seed: int = 0
    tag_mix: str = ""  # text task: training-scene tag weights, e.g. "color_attr:2,counting:1.5" (unnamed
    # tags weigh 1; "" = uniform over GenEval's six tags)
    ema: float = 0.0  # EMA decay of the weights that ship and are scored (0 = off);
    # DiMO's warm-up min(decay, (1+i)/(10+i)). EDM2 (Karras et al. 2024) finds sample
    # quality moves with the averaging length even where the loss does not.
    init: str = ""  # "" = random init; "shipped" = start from the shipped teacher of the task;
    # or a teacher run folder (a long recipe can continue from what shipped).

    def __post_init__(self):
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}")
        if self.amp not in ("bf16", "none"):
            raise ValueError(f"amp must be 'bf16' or 'none', got {self.amp!r}")
        if self.tag_mix and self.task != "shapes-t2i":
            raise ValueError(f"tag_mix weighs caption tags; it applies to --task shapes-t2i, not {self.task!r}")
        S.parse_tag_mix(self.tag_mix)  # a bad spec fails here, before any data is made
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"ema is a decay in [0, 1) (0 = off), got {self.ema}")

    @classmethod
    def preset(cls, task: str) -> "TeacherTrainConfig":
        if task == "shapes-t2i":  # scenes are combinatorial: more distinct training scenes
            return cls(task=task, n_train=96000)
        return cls(task=task)


def model_config(cfg: TeacherTrainConfig, tok) -> TransformerConfig:
    return TransformerConfig(
        num_tokens=tok.num_tokens,
        codebook_size=tok.codebook_size,
        cond="class" if cfg.task == "shapes" else "text",
        num_classes=S.NUM_CLASSES,
        text_vocab=len(S.CAPTION_VOCAB),
        text_len=S.CAPTION_LEN,
        width=cfg.width,
        depth=cfg.depth,
        heads=cfg.heads,
    )


@torch.no_grad()
def tokenize_dataset(tok, cfg: TeacherTrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    if cfg.task == "shapes":
        imgs, cond = class_dataset(cfg.n_train, "train")
    else:
        imgs, cond, _ = scene_dataset(cfg.n_train, "train", tag_probs=S.parse_tag_mix(cfg.tag_mix))
    dev = next(tok.parameters()).device
    codes = torch.cat([tok.encode(to_float(imgs[i : i + 1000]).to(dev)) for i in range(0, len(imgs), 1000)])
    return codes, cond


def masked_ce_loss(
    model, codes: torch.Tensor, cond: torch.Tensor, g: torch.Generator, cfg: TeacherTrainConfig
) -> torch.Tensor:
    b, l = codes.shape
    dev = codes.device  # drawn on the CPU generator (resumable), then moved
    r = torch.rand(b, generator=g)
    p_mask = torch.arccos(r) / (math.pi / 2)
    mask = (torch.rand(b, l, generator=g) < p_mask[:, None]).to(dev)
    drop = (torch.rand(b, generator=g) < cfg.cond_drop).to(dev)
    cond = torch.where(drop.view(-1, *([1] * (cond.dim() - 1))), model_null(model, cond), cond)
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cfg.amp == "bf16"):
        logits = model(codes.masked_fill(mask, _mask_id(model)), cond)
    loss = F.cross_entropy(logits[mask], codes[mask], label_smoothing=cfg.label_smoothing)
    return loss


def model_null(model, cond):
    return unwrap(model).null_cond(cond)


def _mask_id(model) -> int:
    return unwrap(model).mask_id


def lr_at(cfg: TeacherTrainConfig, i: int) -> float:
    """Linear warm-up, then constant or cosine to lr_min_ratio·lr: a function of the step only (resumable)."""
    if i < cfg.warmup:
        return cfg.lr * (i + 1) / cfg.warmup
    if cfg.lr_schedule == "constant":
        return cfg.lr
    t = (i - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (cfg.lr_min_ratio + (1 - cfg.lr_min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def train(cfg: TeacherTrainConfig, out: Path, ship: bool = False, sample_every: int = 500) -> dict:
    D.init()
    torch.manual_seed(cfg.seed)
    dev = D.device()
    tok = load_tokenizer().to(dev)
    model = ShapesMaskTransformer(model_config(cfg, tok)).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
    ddp = torch.nn.parallel.DistributedDataParallel(model) if D.world() > 1 else model
    fwd = torch.compile(ddp) if cfg.compile else ddp  # checkpoints keep `model`'s own keys

    def sample_grid(step: int, folder: Path) -> None:
        from harness.grids import teacher_grid

        teacher_grid(shipped_net.eval(), tok, cfg.task, folder / f"step_{step:07d}.png")
        model.train()

    start = load_init(cfg, model, tok) if cfg.init else None  # a resumed run's checkpoint overrides it below
    ema = EMA(model, cfg.ema) if cfg.ema else None  # starts from the init; resumed with the run
    shipped_net = ema.model if ema else model  # what ships, what the sample grids and scores see
    loop = TrainLoop(
        out,
        cfg,
        {"model": model} | ({"ema": ema.model} if ema else {}),
        {"opt": opt},
        cfg.steps,
        ckpt_every=250,
        sample_every=sample_every,
        sample_fn=sample_grid,
        desc=f"teacher[{cfg.task}]",
    )
    if start is not None and D.is_main():  # what the run started from, as it was when it started
        start = _record_init(out, start, first=loop.start_step == 0)
    codes, cond = (t.to(dev) for t in tokenize_dataset(tok, cfg))

    def step(i: int) -> dict:
        g = step_generator(cfg.seed, i)
        idx = torch.randint(0, len(codes), (cfg.batch,), generator=g)[D.local_slice(cfg.batch)].to(dev)
        lr = lr_at(cfg, i)
        for group in opt.param_groups:
            group["lr"] = lr
        model.train()
        loss = masked_ce_loss(fwd, codes[idx], cond[idx], g, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        logs = {"loss": loss.item(), "grad_norm": gn.item(), "lr": lr}
        return logs | ({"ema_rate": ema.update(model, i)} if ema else {})

    stats = loop.run(step)
    result = {"train": stats}
    if ship and D.is_main():
        name = assets.TEACHER_ASSETS[cfg.task]
        result["asset"] = str(
            assets.ship(
                name,
                shipped_net.state_dict(),
                {"model": model.cfg.to_dict(), "train": to_dict(cfg)},
                {"sec_per_step": stats["sec_per_step"], "final_loss": stats["last"].get("loss")}
                | ({"init": start} if start else {}),
                segments=loop.segments(),
                after=(start or {}).get("regenerate"),
            )
        )
    return result


def load_init(cfg: TeacherTrainConfig, model: ShapesMaskTransformer, tok) -> dict:
    """Load `--set init=...` into `model`; returns its provenance (sha256 of the weights, and the chain that made
    them when it is known). A warm start: the optimizer state and the lr schedule start afresh."""
    from harness.errors import HarnessError

    if cfg.init == "shipped":
        name = assets.TEACHER_ASSETS[cfg.task]
        sd, meta = assets.load_asset(name)
        prov = {"from": f"shipped {name}", "sha256": meta.get("sha256"), "regenerate": meta.get("regenerate")}
    else:
        src, ident = load_run(cfg.task, cfg.init, tok)
        sd, prov = (
            src.state_dict(),
            {
                "from": f"run folder {ident['run']} at step {ident['step']}",
                "sha256": ident["sha256"],
                "regenerate": None,
            },
        )
    have, given = _shapes(model.state_dict()), _shapes(sd)
    src_depth, depth = _depth(sd), model.cfg.depth
    if src_depth < depth and _shapes_but_blocks(have) == _shapes_but_blocks(given):
        sd = grow_depth(sd, model, src_depth)
        given = _shapes(sd)
        prov["grown"] = f"depth {src_depth} -> {depth}: blocks {src_depth}..{depth - 1} appended as identities"
    if have != given:
        raise HarnessError(
            f"--set init={cfg.init}: its network (depth {src_depth}) is not this config's; pass "
            f"--set depth={src_depth} (or more, to grow it) and the same --set width/heads as its run"
        )
    model.load_state_dict(sd)
    return prov


def _shapes(sd: dict) -> dict:
    return {k: tuple(v.shape) for k, v in sd.items()}


def _depth(sd: dict) -> int:
    return len({k.split(".")[2] for k in sd if k.startswith("blocks.layers.")})


def _shapes_but_blocks(shapes: dict) -> dict:
    """Shapes of everything outside the transformer blocks, and of one block (all blocks have the same)."""
    return {k: v for k, v in shapes.items() if not k.startswith("blocks.layers.") or k.startswith("blocks.layers.0.")}


def grow_depth(sd: dict, model: ShapesMaskTransformer, src_depth: int) -> dict:
    """Warm-start a deeper network from a shallower one without changing its function: the source's blocks
    first, then new blocks whose residual outputs (attention out-projection, second MLP linear) start at zero,
    so each new pre-LN block adds nothing until training moves it (the zero-init of a residual branch, as in
    Goyal et al. 2017 and DiT's adaLN-Zero). Their inner weights get a fresh, independent initialisation:
    nn.TransformerEncoder deep-copies one layer, which would start every new block identical."""
    grown = dict(sd)
    for i in range(src_depth, len(model.blocks.layers)):
        layer = model.blocks.layers[i]
        layer.self_attn._reset_parameters()
        layer.linear1.reset_parameters()
        for lin in (layer.self_attn.out_proj, layer.linear2):
            torch.nn.init.zeros_(lin.weight)
            torch.nn.init.zeros_(lin.bias)
        grown |= {f"blocks.layers.{i}.{k}": v.detach().clone() for k, v in layer.state_dict().items()}
    return grown


def _record_init(out: Path, prov: dict, first: bool) -> dict:
    import json

    from harness.io import write_json

    path = Path(out) / "init.json"
    if first or not path.exists():
        write_json(path, prov)
        return prov
    return json.loads(path.read_text())


def load_run(task: str, run_dir: str | Path, tok) -> tuple[ShapesMaskTransformer, dict]:
    """The latest checkpoint of a `harness train teacher` run folder (to score a teacher before shipping it),
    built for tokenizer `tok`: its EMA weights where the run keeps them, else its weights; or one weights file
    of that checkpoint when `run_dir` names it (RUN/checkpoints/step_N/model.safetensors: the raw weights).
    Returns the network and its identity: the step, the weights file and its sha256."""
    import json

    from harness.errors import HarnessError
    from harness.train_loop import latest_checkpoint
    from safetensors.torch import load_file

    run, weights = Path(run_dir), None
    if run.suffix == ".safetensors":  # one weights file of a checkpoint (e.g. the raw weights beside the EMA)
        run, weights = run.parent.parent.parent, run.name
    found = latest_checkpoint(run) if (run / "config.json").exists() else None
    if found is None:
        raise HarnessError(
            f"{run} is not a teacher run folder (no latest.json / config.json); "
            f"pass the --out folder of `harness train teacher`"
        )
    cfg_d = json.loads((run / "config.json").read_text())
    if cfg_d.get("task") != task:
        raise HarnessError(f"{run} trained a {cfg_d.get('task')!r} teacher, not {task!r}; pass the matching --suite")
    ck, meta = found
    if weights is not None and Path(run_dir).parent.resolve() != ck.resolve():
        raise HarnessError(f"{run_dir} is not in the run's latest checkpoint {ck}; pass a file of that folder")
    known = {f.name for f in fields(TeacherTrainConfig)}
    m = ShapesMaskTransformer(model_config(TeacherTrainConfig(**{k: v for k, v in cfg_d.items() if k in known}), tok))
    if weights is None:  # what --ship ships
        weights = "ema.safetensors" if (ck / "ema.safetensors").exists() else "model.safetensors"
    if weights not in meta["sha256"]:
        raise HarnessError(f"{ck} has no {weights}; pass model.safetensors or ema.safetensors of it")
    m.load_state_dict(load_file(ck / weights))
    return m.eval().requires_grad_(False), {
        "run": str(run),
        "step": meta["step"],
        "weights": weights,
        "sha256": meta["sha256"][weights],
    }


def load_shipped(task: str = "shapes", path: str | Path | None = None) -> ShapesMaskTransformer:
    sd, meta = assets.load_asset(assets.TEACHER_ASSETS[task], path)
    m = ShapesMaskTransformer(TransformerConfig(**meta["config"]["model"]))
    m.load_state_dict(sd)
    return m.eval().requires_grad_(False)
