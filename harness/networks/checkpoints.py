"""Strict loaders for the official teacher / tokenizer files, and conversion to the project format.

Every loader compares each key and shape of the file with the model it builds and refuses any
difference with one line that names the missing, unexpected and mismatched keys (the reference
code loads everything with strict=False, so a wrong file would load silently; MaskGIT-pytorch v1
`Trainer/vit.py::get_network`).

Official files (docs/references/teachers.md §1.2, §3.1, §3.3):
* `MaskGIT_ImageNet_256.pth`: torch.save({'iter', 'global_epoch', 'model_state_dict', ...}).
* VQGAN `last.ckpt`: Lightning checkpoint, weights under 'state_dict'; `loss.*` (discriminator /
  LPIPS) keys are training-only and are the ONLY keys ignored. A `model.yaml` next to it is checked.
* `tatitok_bl128_vq.bin`, `maskgen_vq_l.bin`: plain state_dicts (or an HF folder with
  model.safetensors + config.json, PyTorchModelHubMixin layout, whose config is checked too).
* CLIP ViT-L-14-336: OpenAI TorchScript `ViT-L-14-336px.pt` or open_clip `open_clip_pytorch_model.bin`
  / `.safetensors`; only the text tower is used, `visual.*` and scalar metadata are skipped.

Head counts cannot be read from shapes: nn.MultiheadAttention stores in_proj_weight as [3d, d]
and the MM-DiT q/k/v projections are [d, d] whatever the number of heads. The official-file loaders
therefore take the head count from the preset config (MaskGIT: 16, MaskGen-L: 16), and converted
checkpoints store their config in a JSON next to the weights, which is compared field by field.
Everything else a shape does reveal (block counts, widths, vocabularies) is read from the file
(`harness.networks.infer_config`), so the official files and reduced fixtures load the same way.

Project format (`convert_official`): `<name>.safetensors` + `<name>.json` with {kind, config,
sha256 of the weights, sha256 of the source file}, written atomically by `harness.io.save_weights`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from harness.errors import HarnessError
from harness.io import load_weights, save_weights, sha256_file

# ----------------------------------------------------------------------------------------------
# strict key / shape check
# ----------------------------------------------------------------------------------------------


def _short(items: list[str], n: int = 4) -> str:
    more = f" (+{len(items) - n} more)" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def check_state_dict(expected: Mapping[str, Any], got: Mapping[str, Any], what: str) -> None:
    """Raise a one-line HarnessError unless `got` has exactly the keys and shapes of `expected`."""
    exp = {k: tuple(v.shape) for k, v in expected.items()}
    have = {k: tuple(v.shape) for k, v in got.items() if isinstance(v, Tensor)}
    nontensor = sorted(k for k, v in got.items() if not isinstance(v, Tensor))
    missing = sorted(set(exp) - set(have) - set(nontensor))
    unexpected = sorted((set(have) - set(exp)) | (set(nontensor) - set(exp)))
    wrong = sorted(
        f"{k} file {list(have[k])} vs model {list(exp[k])}" for k in set(exp) & set(have) if have[k] != exp[k]
    )
    wrong += sorted(f"{k} is not a tensor" for k in set(exp) & set(nontensor))
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)}: {_short(missing)}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)}: {_short(unexpected)}")
        if wrong:
            parts.append(f"shape mismatch {len(wrong)}: {_short(wrong, 3)}")
        raise HarnessError(
            f"{what} does not match the model ({'; '.join(parts)}); use the official file named by `harness doctor`"
        )


def load_strict(model: nn.Module, sd: Mapping[str, Tensor], what: str) -> nn.Module:
    check_state_dict(model.state_dict(), sd, what)
    model.load_state_dict(dict(sd), strict=True)
    return model


# ----------------------------------------------------------------------------------------------
# reading files
# ----------------------------------------------------------------------------------------------


def _allow_pickle() -> bool:
    return os.environ.get("FPD_ALLOW_PICKLE", "") == "1"


def torch_read(path: str | Path, what: str) -> Any:
    """torch.load with weights_only=True; pickled Python objects need FPD_ALLOW_PICKLE=1 (trusted files)."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"{what}: file {path} not found; run `harness doctor` to see where to get it")
    try:
        try:  # memory-map zip-format files: the tensors are copied once, into the model
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # legacy (pre-zip) serialisation cannot be memory-mapped
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # UnpicklingError for objects beyond tensors; RuntimeError for a corrupt zip
        if _allow_pickle():
            try:
                return torch.load(path, map_location="cpu", weights_only=False)
            except Exception as e2:
                raise HarnessError(f"{what}: cannot read {path} ({type(e2).__name__}: {str(e2)[:120]})") from e2
        raise HarnessError(
            f"{what}: {path} could not be read as plain tensors ({type(e).__name__}: {str(e).splitlines()[0][:120]}); "
            f"if the file is corrupt re-download it, if it is the trusted official file set FPD_ALLOW_PICKLE=1"
        ) from e


def _read_state_dict_file(path: Path, what: str) -> dict[str, Any]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as e:
            raise HarnessError(f"{what}: {path} is not a valid safetensors file ({e})") from e
    obj = torch_read(path, what)
    if not isinstance(obj, dict):
        raise HarnessError(f"{what}: {path} holds a {type(obj).__name__}, expected a state_dict")
    return obj


def _sub(obj: Any, key: str, path: Path, what: str) -> dict[str, Any]:
    if not isinstance(obj, dict) or key not in obj or not isinstance(obj[key], dict):
        keys = list(obj)[:6] if isinstance(obj, dict) else type(obj).__name__
        raise HarnessError(f"{what}: {path} has no '{key}' entry (top level: {keys}); is it the right file?")
    return obj[key]


# ----------------------------------------------------------------------------------------------
# per-network official readers
# ----------------------------------------------------------------------------------------------


def read_official_maskgit(path: Path) -> dict[str, Tensor]:
    """`MaskGIT_ImageNet_256.pth` -> its 'model_state_dict' (saved from model.module: no prefix)."""
    return _sub(torch_read(path, "MaskGIT transformer"), "model_state_dict", path, "MaskGIT transformer")


def read_official_vqgan(path: Path) -> dict[str, Tensor]:
    """Lightning `last.ckpt` -> 'state_dict' without the training-only `loss.*` keys."""
    sd = _sub(torch_read(path, "VQGAN"), "state_dict", path, "VQGAN")
    return {k: v for k, v in sd.items() if not k.startswith("loss.")}


def check_vqgan_yaml(yaml_path: Path, cfg) -> None:
    """Compare taming `model.yaml` (config.model.params) with the VQGAN config we build."""
    try:
        import yaml
    except ImportError:  # pyyaml is optional; the key/shape check still runs
        return
    try:
        params = yaml.safe_load(yaml_path.read_text())["model"]["params"]
        dd = params["ddconfig"]
    except Exception as e:
        raise HarnessError(f"VQGAN: {yaml_path} is not a taming model.yaml ({type(e).__name__}: {e})") from e
    want = {"embed_dim": cfg.embed_dim, "n_embed": cfg.n_embed}
    have = {"embed_dim": params.get("embed_dim"), "n_embed": params.get("n_embed")}
    for k in ("z_channels", "resolution", "in_channels", "out_ch", "ch", "num_res_blocks", "dropout"):
        want[k], have[k] = getattr(cfg, k), dd.get(k)
    want["ch_mult"], have["ch_mult"] = list(cfg.ch_mult), list(dd.get("ch_mult", []))
    want["attn_resolutions"], have["attn_resolutions"] = (
        list(cfg.attn_resolutions),
        list(dd.get("attn_resolutions", [])),
    )
    want["double_z"], have["double_z"] = False, dd.get("double_z")
    diff = [f"{k}={have[k]} (expected {want[k]})" for k in want if have[k] != want[k]]
    if diff:
        raise HarnessError(f"VQGAN: {yaml_path} describes a different model: {', '.join(diff)}")


def _hub_dir_file(path: Path) -> Path:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (path / name).is_file():
            return path / name
    raise HarnessError(f"{path} is a folder without model.safetensors or pytorch_model.bin")


def _check_hub_config(folder: Path, section: str, want: Mapping[str, Any], what: str) -> None:
    """PyTorchModelHubMixin folders carry config.json (OmegaConf dump): compare the fields we rely on."""
    cj = folder / "config.json"
    if not cj.is_file():
        return
    try:
        conf = json.loads(cj.read_text())
        sec = conf["model"][section]
    except Exception:
        return  # not the 1d-tokenizer layout; shapes are still checked
    diff = [f"{k}={sec[k]} (expected {v})" for k, v in want.items() if k in sec and sec[k] != v]
    if diff:
        raise HarnessError(f"{what}: {cj} describes a different model: {', '.join(diff)}")


def read_official_plain(path: Path, what: str) -> dict[str, Tensor]:
    """A raw state_dict file, or an HF PyTorchModelHubMixin folder."""
    if path.is_dir():
        path = _hub_dir_file(path)
    sd = _read_state_dict_file(path, what)
    return sd.get("state_dict", sd) if isinstance(sd.get("state_dict"), dict) else sd


# scalar metadata of the OpenAI TorchScript archive and the derived causal mask: not weights
_CLIP_ARCHIVE_META = ("input_resolution", "context_length", "vocab_size", "attn_mask")
# the contrastive temperature / bias: part of the full CLIP, not of the text tower
_CLIP_CONTRASTIVE = ("logit_scale", "logit_bias")


def _is_torchscript(path: Path) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith("/constants.pkl") or n.startswith("code/") or "/code/" in n for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def read_official_clip(path: Path, what: str = "CLIP") -> dict[str, Tensor]:
    """OpenAI TorchScript archive (`ViT-L-14.pt`, `ViT-L-14-336px.pt`) or open_clip checkpoint (file or HF
    folder) -> the full CLIP state dict, both towers, without the archive's scalar metadata.

    torch.load(weights_only=True) refuses TorchScript archives (open_clip >= 2.29 thus cannot read OpenAI's
    release); torch.jit.load reads the tensors without unpickling Python objects."""
    path = Path(path)
    if path.is_dir():
        for name in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise HarnessError(f"{what}: {path} has no open_clip_model.safetensors / open_clip_pytorch_model.bin")
    sd: dict[str, Any]
    if not path.is_file():
        raise HarnessError(f"{what}: file {path} not found; run `harness doctor` to see where to get it")
    if _is_torchscript(path):
        try:
            sd = torch.jit.load(str(path), map_location="cpu").state_dict()
        except Exception as e:
            raise HarnessError(f"{what}: cannot read TorchScript archive {path} ({type(e).__name__}: {e})") from e
    else:
        sd = read_official_plain(path, what)
    if "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    sd = {k.removeprefix("module."): v for k, v in sd.items()}
    return {k: v for k, v in sd.items() if k not in _CLIP_ARCHIVE_META}


def read_official_clip_text(path: Path) -> dict[str, Tensor]:
    """OpenAI TorchScript archive or open_clip checkpoint -> text-tower keys only."""
    sd = read_official_clip(path, "CLIP text encoder")
    return {k: v for k, v in sd.items() if not k.startswith("visual.") and k not in _CLIP_CONTRASTIVE}


# ----------------------------------------------------------------------------------------------
# kinds: build + read + config
# ----------------------------------------------------------------------------------------------


def _kinds() -> dict[str, dict[str, Any]]:
    from harness.networks.maskgen import (
        ClipTextConfig,
        ClipTextEncoder,
        MaskGenConfig,
        MaskGenVQ,
        TATiTok,
        TATiTokConfig,
    )
    from harness.networks.maskgit_v1 import MaskGITConfig, MaskGITTransformer
    from harness.networks.vqgan_taming import TamingVQGAN, VQGANConfig

    return {
        "maskgit_transformer": dict(
            config=MaskGITConfig, build=MaskGITTransformer, what="MaskGIT transformer", read=read_official_maskgit
        ),
        "vqgan": dict(config=VQGANConfig, build=TamingVQGAN, what="VQGAN", read=read_official_vqgan),
        "tatitok": dict(
            config=TATiTokConfig,
            build=TATiTok,
            what="TA-TiTok tokenizer",
            read=lambda p: read_official_plain(p, "TA-TiTok tokenizer"),
        ),
        "maskgen": dict(
            config=MaskGenConfig, build=MaskGenVQ, what="MaskGen-L", read=lambda p: read_official_plain(p, "MaskGen-L")
        ),
        "clip_text": dict(
            config=ClipTextConfig, build=ClipTextEncoder, what="CLIP text encoder", read=read_official_clip_text
        ),
    }


def _kind(kind: str) -> dict[str, Any]:
    kinds = _kinds()
    if kind not in kinds:
        raise HarnessError(f"unknown network kind {kind!r}; choose one of {sorted(kinds)}")
    return kinds[kind]


def _is_converted(path: Path) -> bool:
    return path.suffix in (".safetensors", ".json") and path.with_suffix(".json").is_file()


def _module_for_sd(kind: str, model: nn.Module) -> nn.Module:
    # CLIP checkpoints store the text tower at the top level; our wrapper keeps it under `.text`
    return model.text if kind == "clip_text" else model


def _json_norm(d: dict) -> dict:
    return json.loads(json.dumps(d, default=str))


def check_stored_config(stored: Mapping[str, Any], expected: Mapping[str, Any], what: str) -> None:
    """Refuse a converted checkpoint whose stored config differs from the preset (e.g. heads=8)."""
    exp = _json_norm(dict(expected))
    diff = [
        f"{k}={stored.get(k)!r} (preset {exp[k]!r})"
        for k in sorted(set(exp) | set(stored))
        if stored.get(k) != exp.get(k)
    ]
    if diff:
        raise HarnessError(
            f"{what}: stored config differs from the preset: {', '.join(diff)}; "
            f"re-convert the official file or use the matching preset"
        )


def read_checked(kind: str, path: str | Path, config=None) -> tuple[dict[str, Tensor], Any]:
    """Official file or converted checkpoint -> (state_dict, config), the config files beside it checked.

    Without `config` the shapes come from the file itself (harness.networks.infer_config): block
    counts and widths from the state dict, head counts from the preset. A full official file and a
    reduced fixture thus take the same strict path; an explicit `config` is used as given.
    """
    from harness.networks.infer_config import infer_config

    k, path = _kind(kind), Path(path)
    if _is_converted(path):
        sd, meta = load_weights(path)
        if meta.get("kind") != kind:
            raise HarnessError(f"{k['what']}: {path} is a converted {meta.get('kind')!r} checkpoint, not {kind!r}")
        config = config or infer_config(kind, sd, k["config"](), k["what"])
        check_stored_config(meta.get("config", {}), config.to_dict(), f"{k['what']} {path.name}")
        return sd, config
    # a hub folder's config.json is small and names a wrong head count better than a key diff: with a
    # given config it is checked before the weights are read, else against the shapes read from them
    if kind == "maskgen" and path.is_dir() and config is not None:
        _check_maskgen_hub(path, config, k["what"])
    sd = k["read"](path)
    if config is None:
        config = infer_config(kind, sd, k["config"](), k["what"])
        if kind == "maskgen" and path.is_dir():
            _check_maskgen_hub(path, config, k["what"])
    if kind == "vqgan" and (path.parent / "model.yaml").is_file():
        check_vqgan_yaml(path.parent / "model.yaml", config)
    return sd, config


def _check_maskgen_hub(path: Path, config, what: str) -> None:
    _check_hub_config(
        path,
        "maskgen",
        {"decoder_embed_dim": config.embed_dim, "decoder_depth": config.depth, "decoder_num_heads": config.heads},
        what,
    )


def read_state_dict(kind: str, path: str | Path, config=None) -> dict[str, Tensor]:
    """Official file or converted checkpoint -> state_dict (config-checked for converted ones)."""
    return read_checked(kind, path, config)[0]


def _finish_meta_build(kind: str, model: nn.Module) -> None:
    """Re-create what a state_dict does not carry after an assign-load into a meta-built model."""
    if kind == "clip_text" and model.text.attn_mask is not None:  # non-persistent causal mask
        model.text.attn_mask = model.text.build_causal_mask()
    left = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if left:
        raise RuntimeError(f"{kind}: tensors not restored after loading: {left[:4]}")


def _fill_known_gaps(kind: str, sd: Mapping[str, Tensor], expected: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Two keys official files may legitimately lack, restored exactly as the modules define them:
    * MaskGen: `lm_head.weight` is the embedding table itself; PyTorchModelHubMixin saves with safetensors,
      which drops the tied duplicate, so an HF folder has only `embeddings.weight` — re-tie it.
    * TA-TiTok: `quantize.embed_prob` is a usage buffer of clustering VQ, unused at inference; the released
      inference config says clustering_vq False, so the .bin may lack it — zeros, as the module initialises it.
    """
    sd = dict(sd)
    if kind == "maskgen" and "lm_head.weight" in expected and "lm_head.weight" not in sd and "embeddings.weight" in sd:
        sd["lm_head.weight"] = sd["embeddings.weight"]
    if (
        kind == "maskgen"
        and isinstance(sd.get("lm_head.weight"), Tensor)
        and isinstance(sd.get("embeddings.weight"), Tensor)
        and sd["lm_head.weight"].shape == sd["embeddings.weight"].shape
        and not torch.equal(sd["lm_head.weight"], sd["embeddings.weight"])
    ):
        raise HarnessError(
            "MaskGen-L: lm_head.weight differs from embeddings.weight, which MaskGen ties; "
            "use the official maskgen_vq_l.bin"
        )
    if kind == "tatitok":
        for name, t in expected.items():
            if name.endswith("quantize.embed_prob") and name not in sd:
                sd[name] = torch.zeros(t.shape, dtype=t.dtype)
    return sd


def load_network(kind: str, path: str | Path, config=None, *, device: str | torch.device = "cpu") -> nn.Module:
    """Build `kind` from `config` (default: the shapes the file holds, heads from the preset) and load `path` strictly.

    The model is built on the meta device (no random init), its keys and shapes are compared with
    the file, and the file's tensors are assigned in place (cast to the model's dtypes: the OpenAI
    CLIP archive is fp16).
    """
    k = _kind(kind)
    sd, config = read_checked(kind, path, config)
    what = f"{k['what']} checkpoint {Path(path).name}"
    with torch.device("meta"):
        model = k["build"](config)
    target = _module_for_sd(kind, model)
    expected = target.state_dict()
    sd = _fill_known_gaps(kind, sd, expected)
    check_state_dict(expected, sd, what)
    target.load_state_dict({n: sd[n].to(dtype=expected[n].dtype) for n in expected}, strict=True, assign=True)
    _finish_meta_build(kind, model)
    return model.to(device).eval()


def load_maskgit_transformer(path: str | Path, config=None, **kw):
    """MaskGIT v1 transformer from `MaskGIT_ImageNet_256.pth` or a converted checkpoint.

    heads comes from `config` (default 16, the value every v1 trainer passes): the file cannot
    tell 8 heads from 16, see the module docstring.
    """
    return load_network("maskgit_transformer", path, config, **kw)


def load_vqgan(path: str | Path, config=None, **kw):
    """taming VQGAN from `last.ckpt` (ignoring `loss.*` only) or a converted checkpoint."""
    return load_network("vqgan", path, config, **kw)


def load_tatitok(path: str | Path, config=None, **kw):
    return load_network("tatitok", path, config, **kw)


def load_maskgen(path: str | Path, config=None, **kw):
    return load_network("maskgen", path, config, **kw)


def load_clip_text(path: str | Path, config=None, **kw):
    return load_network("clip_text", path, config, **kw)


# ----------------------------------------------------------------------------------------------
# conversion to the project format
# ----------------------------------------------------------------------------------------------


def save_converted(kind: str, model: nn.Module, dst: str | Path, *, source: str | Path | None = None) -> dict:
    """Write `dst`.safetensors + `dst`.json (kind, config, sha256s) atomically; returns the metadata."""
    k = _kind(kind)
    sd = _module_for_sd(kind, model).state_dict()
    # safetensors refuses shared storage: MaskGen's lm_head.weight is the embedding table itself
    seen: dict[int, str] = {}
    tensors = {}
    for name, t in sd.items():
        ptr = t.data_ptr()
        tensors[name] = t.clone() if ptr in seen else t
        seen.setdefault(ptr, name)
    extra: dict[str, Any] = {"kind": kind, "what": k["what"]}
    if source is not None:
        extra["source"] = str(source)
        extra["source_sha256"] = sha256_file(source) if Path(source).is_file() else None
    return save_weights(dst, tensors, model.cfg.to_dict(), extra)


def convert_official(kind: str, src: str | Path, dst: str | Path, config=None) -> dict:
    """Strictly load an official file and write it in the project format."""
    model = load_network(kind, src, config)
    return save_converted(kind, model, dst, source=src)


# ----------------------------------------------------------------------------------------------
# everything a paper-scale task needs
# ----------------------------------------------------------------------------------------------


def load_task_networks(
    task: str,
    weights_dir: str | Path | None = None,
    *,
    device: str | torch.device = "cpu",
    configs: Mapping[str, Any] | None = None,
    backbone: bool = True,
) -> dict[str, nn.Module]:
    """{'teacher': TokenModel, 'tokenizer': Tokenizer, 'backbone': FeatureBackbone} of preset `task`
    (without 'backbone' when `backbone` is False: sampling and DiMO need no drift features).

    Files come from the preset's weights folder (see `harness doctor`); each network takes its shapes
    from its file (`read_checked`) unless `configs` names a config for its kind.
    """
    from harness.networks.dinov3 import DinoFeatureConfig, load_dino
    from harness.presets import get_preset

    preset, configs = get_preset(task), dict(configs or {})

    def net(kind: str, key: str | None = None):
        return load_network(kind, preset.path(key or kind, weights_dir), configs.get(kind), device=device)

    if preset.teacher == "maskgit_transformer":
        teacher, tokenizer = net("maskgit_transformer"), net("vqgan")
    elif preset.teacher == "maskgen":
        from harness.networks.maskgen import MaskGenTeacher, MaskGenTokenizer

        clip = net("clip_text")
        teacher, tokenizer = MaskGenTeacher(net("maskgen"), clip), MaskGenTokenizer(net("tatitok"), clip)
    else:
        raise HarnessError(f"preset {task!r} names an unknown teacher {preset.teacher!r}")
    if not backbone:
        return {"teacher": teacher, "tokenizer": tokenizer}
    dino_cfg = configs.get("dinov3") or DinoFeatureConfig(blocks=preset.feature_blocks, grid=preset.feature_grid)
    return {
        "teacher": teacher,
        "tokenizer": tokenizer,
        "backbone": load_dino(preset.path("dinov3", weights_dir), dino_cfg).to(device),
    }
