"""Network configurations read from a checkpoint's own keys and shapes.

A real official file and a reduced fixture (fewer blocks, narrower) then go through the same
strict loader: the model is built from what the file holds, and the key-for-key check still
refuses anything that does not fit. Only what the state dict determines unambiguously is read
(block counts, widths, vocabulary and token shapes); the rest stays at the preset value,
above all the head count, which no tensor shape reveals (see harness/networks/checkpoints.py).
A missing key leaves the preset value, so a damaged file is reported by the strict check.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable, Mapping

from torch import Tensor

from harness.errors import HarnessError


def count_blocks(sd: Mapping[str, Any], prefix: str) -> int | None:
    """Number of numbered sub-modules under `prefix` (e.g. 'blocks.' -> blocks.0 ... blocks.N-1)."""
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    idx = {int(m.group(1)) for k in sd if (m := pat.match(k))}
    return max(idx) + 1 if idx else None


def _dim(sd: Mapping[str, Any], key: str, axis: int) -> int | None:
    t = sd.get(key)
    return int(t.shape[axis]) if isinstance(t, Tensor) and t.dim() > axis else None


def _replace(base, **found):
    """dataclasses.replace with only the values the file determined."""
    return dataclasses.replace(base, **{k: v for k, v in found.items() if v is not None})


def _maskgit(sd, base):
    return _replace(
        base,
        hidden_dim=_dim(sd, "tok_emb.weight", 1),
        depth=count_blocks(sd, "transformer.layers."),
        mlp_dim=_dim(sd, "transformer.layers.0.1.fn.net.0.weight", 0),
    )


def _vqgan(sd, base):
    ch = _dim(sd, "encoder.conv_in.weight", 0)
    levels = count_blocks(sd, "encoder.down.")
    if ch is None or levels is None:
        return base
    mult = [_dim(sd, f"encoder.down.{i}.block.0.conv1.weight", 0) for i in range(levels)]
    if any(m is None or m % ch for m in mult):
        return base
    attn = tuple(base.resolution // 2**i for i in range(levels) if f"encoder.down.{i}.attn.0.norm.weight" in sd)
    return _replace(
        base,
        ch=ch,
        ch_mult=tuple(m // ch for m in mult),
        num_res_blocks=count_blocks(sd, "encoder.down.0.block."),
        attn_resolutions=attn,
        z_channels=_dim(sd, "encoder.conv_out.weight", 0),
        n_embed=_dim(sd, "quantize.embedding.weight", 0),
        embed_dim=_dim(sd, "quantize.embedding.weight", 1),
    )


def _tatitok(sd, base):
    from harness.networks.maskgen import _VIT

    def side(name: str, size: str, width_key: str):
        w, layers, _ = _VIT[size]
        fw, fl = _dim(sd, width_key, 0), count_blocks(sd, f"{name}.transformer.")
        # None = the named size's own value, so a full official file infers exactly the preset config
        return {
            f"{name[:3]}_width": None if fw in (None, w) else fw,
            f"{name[:3]}_layers": None if fl in (None, layers) else fl,
        }

    return _replace(
        dataclasses.replace(
            base,
            **side("encoder", base.enc_size, "encoder.patch_embed.weight"),
            **side("decoder", base.dec_size, "decoder.ln_pre.weight"),
        ),
        patch_size=_dim(sd, "encoder.patch_embed.weight", 2),
        num_latent_tokens=_dim(sd, "latent_tokens", 0),
        codebook_size=_dim(sd, "quantize.embedding.weight", 0),
        token_size=_dim(sd, "quantize.embedding.weight", 1),
        text_context_length=_dim(sd, "decoder.text_guidance_positional_embedding", 0),
        text_embed_dim=_dim(sd, "decoder.text_guidance_proj.weight", 1),
    )


def _maskgen(sd, base):
    return _replace(
        base,
        embed_dim=_dim(sd, "embeddings.weight", 1),
        depth=count_blocks(sd, "blocks."),
        num_tokens=_dim(sd, "pos_embed", 1),
        text_embed_dim=_dim(sd, "text_embed_proj.weight", 1),
    )


def _clip_text(sd, base):
    return _replace(
        base,
        width=_dim(sd, "token_embedding.weight", 1),
        vocab_size=_dim(sd, "token_embedding.weight", 0),
        layers=count_blocks(sd, "transformer.resblocks."),
        context_length=_dim(sd, "positional_embedding", 0),
        embed_dim=_dim(sd, "text_projection", 1),
    )


_INFER: dict[str, Callable] = {
    "maskgit_transformer": _maskgit,
    "vqgan": _vqgan,
    "tatitok": _tatitok,
    "maskgen": _maskgen,
    "clip_text": _clip_text,
}

# (width field, head-count field) of each transformer in a kind: the widths read from the file must
# split into the preset's heads
_HEADS = {
    "maskgit_transformer": [("hidden_dim", "heads")],
    "maskgen": [("embed_dim", "heads")],
    "clip_text": [("width", "heads")],
}


def infer_config(kind: str, sd: Mapping[str, Any], base, what: str):
    """`base` (the preset config) with every shape the state dict `sd` determines replaced by the file's."""
    cfg = _INFER[kind](sd, base) if kind in _INFER else base
    pairs = [(getattr(cfg, w), getattr(cfg, h)) for w, h in _HEADS.get(kind, [])]
    if kind == "tatitok":
        pairs = [cfg.vit("enc")[::2], cfg.vit("dec")[::2]]
    for width, heads in pairs:
        if width % heads:
            raise HarnessError(
                f"{what}: width {width} read from the file does not split into the preset's {heads} "
                f"heads; load it with an explicit config that names its head count"
            )
    return cfg


def _ratio(a: int | None, b: int | None) -> float | None:
    return a / b if a and b else None


def open_clip_config(sd: Mapping[str, Any], base: Mapping[str, Any], what: str) -> dict:
    """A full open_clip CLIP model config (open_clip's `model_configs/<name>.json` layout) with every shape the
    state dict determines read from it: widths, depths, patch and image size, MLP ratios, vocabulary, context.

    Head counts stay the preset's: the text tower's `heads`, the vision tower's `head_width` (open_clip builds
    width // head_width heads)."""
    vis, txt = dict(base["vision_cfg"]), dict(base["text_cfg"])
    vw, patch = _dim(sd, "visual.conv1.weight", 0), _dim(sd, "visual.conv1.weight", 2)
    n_pos, tw = _dim(sd, "visual.positional_embedding", 0), _dim(sd, "token_embedding.weight", 1)
    grid = round((n_pos - 1) ** 0.5) if n_pos else None
    vis.update(
        {
            k: v
            for k, v in {
                "width": vw,
                "patch_size": patch,
                "layers": count_blocks(sd, "visual.transformer.resblocks."),
                "image_size": grid * patch if grid and patch else None,
                "mlp_ratio": _ratio(_dim(sd, "visual.transformer.resblocks.0.mlp.c_fc.weight", 0), vw),
            }.items()
            if v is not None
        }
    )
    txt.update(
        {
            k: v
            for k, v in {
                "width": tw,
                "vocab_size": _dim(sd, "token_embedding.weight", 0),
                "context_length": _dim(sd, "positional_embedding", 0),
                "layers": count_blocks(sd, "transformer.resblocks."),
                "mlp_ratio": _ratio(_dim(sd, "transformer.resblocks.0.mlp.c_fc.weight", 0), tw),
            }.items()
            if v is not None
        }
    )
    embed = _dim(sd, "text_projection", 1)
    head_width = vis.get("head_width", 64)
    if vis["width"] % head_width or txt["width"] % txt["heads"]:
        raise HarnessError(
            f"{what}: widths read from the file (vision {vis['width']}, text {txt['width']}) do not split "
            f"into the preset's heads (vision head width {head_width}, {txt['heads']} text heads); "
            f"is it a CLIP {base.get('name', '')} checkpoint?"
        )
    return {**dict(base), "embed_dim": embed or base["embed_dim"], "vision_cfg": vis, "text_cfg": txt}
