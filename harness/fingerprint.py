"""Generator fingerprints: which generator made a folder of samples.

A fingerprint is everything that changes a sample for a given seed: the method, its step count
and sampler settings, the checkpoint's sha256, the sha256 of the networks it is built on (teacher
and tokenizer for the shapes world; the official weight files at paper scale), the suite's protocol
and its evaluation network. Two generators with the same fingerprint draw the same images for the
same seeds; anything else must never share a shard folder (`harness eval` refuses a mismatch).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from harness.errors import HarnessError
from harness.io import write_json

FILE = "fingerprint.json"
# Describe keys that identify samples. Paths, wall times and training costs do not change a sample.
_IDENTITY_KEYS = ("method", "steps", "sampler", "sampler_preset", "sampling", "checkpoint_sha256", "networks")


def fingerprint(describe: dict, suite_identity: dict) -> dict:
    """{"id": 12 hex digits, "generator": ..., "suite": ...} for a generator's `describe` on a suite."""
    gen = {k: describe[k] for k in _IDENTITY_KEYS if k in describe}
    body = {"generator": gen, "suite": suite_identity}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return {"id": digest, **body}


def summary(fp: dict) -> str:
    """One readable line: 'fpd 1 step, checkpoint 3fa2c1…, fp 9ab0…'."""
    g = fp.get("generator", {})
    ck = g.get("checkpoint_sha256")
    return (
        f"{g.get('method', '?')} {g.get('steps', '?')} step(s)"
        + (f", checkpoint {ck[:10]}" if ck else "")
        + f" [fingerprint {fp.get('id', '?')}]"
    )


def claim_folder(out: Path, fp: dict) -> None:
    """Bind results folder `out` to generator `fp`, or refuse if it holds another generator's samples."""
    out = Path(out)
    path = out / FILE
    if path.exists():
        try:
            have = json.loads(path.read_text())
        except json.JSONDecodeError:
            raise HarnessError(f"{path} is corrupt; delete the folder {out} or pass another --out") from None
        if have.get("id") != fp["id"]:
            raise HarnessError(
                f"{out} holds samples of {summary(have)}, not of {summary(fp)}; "
                f"pass another --out or delete that folder"
            )
        return
    if any(out.glob("shards_*/shard_*.npz")):
        raise HarnessError(
            f"{out} holds samples of an unknown generator (no {FILE}); pass another --out or delete that folder"
        )
    write_json(path, fp)
