"""Shipped shapes-world networks (small safetensors files inside the package).

Each asset `<name>.safetensors` has a `<name>.json` beside it with its config, sha256, the exact
command that regenerated it and what it measured. `load_asset` refuses a corrupt file.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

from harness.errors import HarnessError
from harness.io import load_weights, save_weights

ASSET_DIR = Path(__file__).parent / "assets"
REGEN = {
    "shapes_vq": "harness train tokenizer --task shapes --ship",
    "teacher_shapes": "harness train teacher --task shapes --ship",
    "teacher_shapes_t2i": "harness train teacher --task shapes-t2i --ship",
    "shapes_backbone": "harness train backbone --task shapes --ship",
    "shapes_classifier": "harness train classifier --task shapes --ship",
}


def asset_path(name: str) -> Path:
    return ASSET_DIR / f"{name}.safetensors"


def asset_sha256(name: str) -> str | None:
    """The recorded sha256 of a shipped asset's weights (from its JSON), None if it is not shipped."""
    import json
    meta = asset_path(name).with_suffix(".json")
    return json.loads(meta.read_text()).get("sha256") if meta.exists() else None


def load_asset(name: str, path: str | Path | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """Weights and metadata of a shipped asset (or of an explicit checkpoint path)."""
    p = Path(path) if path else asset_path(name)
    if not p.with_suffix(".safetensors").exists():
        how = REGEN.get(name, "the matching `harness train` command")
        raise HarnessError(f"weights {p.with_suffix('.safetensors')} not found; regenerate them with `{how}`")
    return load_weights(p)


def ship(name: str, tensors: dict[str, torch.Tensor], config: dict, extra: dict) -> Path:
    """Write a trained network into the package's assets with the command that made it."""
    made_by = "harness " + " ".join(sys.argv[1:]) if Path(sys.argv[0]).name in ("harness", "cli.py") else None
    save_weights(ASSET_DIR / name, tensors, config, {"regenerate": made_by or REGEN.get(name), **extra})
    return asset_path(name)
