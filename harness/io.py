"""Atomic file writes, hashes, and the project checkpoint format (safetensors + JSON).

Every write goes to a temporary file in the same folder, is fsynced, then renamed over the
target, so a crash leaves either the old file or the new one, never half of either.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from harness.errors import HarnessError


def runs_root() -> Path:
    """Where run folders go by default: $FPD_RUNS_DIR (e.g. a folder under your home that outlives the checkout),
    else runs/ in the current directory."""
    return Path(os.environ.get("FPD_RUNS_DIR") or "runs")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while b := f.read(chunk):
            h.update(b)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_writable(folder: str | Path) -> Path:
    """Create `folder` if needed and check we can write there, before any long work starts."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".probe.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise HarnessError(f"cannot write to {folder}: {e.strerror}; choose a writable output folder") from e
    return folder


def atomic_write(path: str | Path, write_fn) -> None:
    """Call write_fn(tmp_path) then fsync and rename tmp over path."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise HarnessError(f"cannot write to {path.parent}: {e.strerror}; choose a writable output folder") from e
    os.close(fd)
    try:
        write_fn(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results and assets are meant to be shared
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise HarnessError(f"writing {path} failed: {e.strerror or e}; free space or choose another folder") from e
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: str | Path, obj: Any) -> None:
    text = json.dumps(obj, indent=2, sort_keys=True, default=str)
    atomic_write(path, lambda p: Path(p).write_text(text + "\n"))


def append_jsonl(path: str | Path, obj: Any) -> None:
    """One JSON line, written in one call and fsynced (a crash leaves at most a partial last line)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(obj, sort_keys=True, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())


def write_bytes(path: str | Path, data: bytes) -> None:
    atomic_write(path, lambda p: Path(p).write_bytes(data))


def save_torch(path: str | Path, obj: Any) -> None:
    atomic_write(path, lambda p: torch.save(obj, p))


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def save_weights(path: str | Path, tensors: dict[str, torch.Tensor], config: dict, extra: dict | None = None) -> dict:
    """Write `<path>.safetensors` and `<path>.json` (config, its hash, sha256 of the weights)."""
    path = Path(path)
    st = path.with_suffix(".safetensors")
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    atomic_write(st, lambda p: save_file(tensors, p))
    meta = {
        "config": config,
        "config_hash": config_hash(config),
        "weights": st.name,
        "sha256": sha256_file(st),
        **(extra or {}),
    }
    write_json(path.with_suffix(".json"), meta)
    return meta


def load_weights(path: str | Path, expect_config: dict | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a checkpoint written by save_weights, refusing corrupted files and mismatched configs."""
    path = Path(path)
    st, js = path.with_suffix(".safetensors"), path.with_suffix(".json")
    for f in (st, js):
        if not f.exists():
            raise HarnessError(
                f"checkpoint file {f} is missing; re-run the command that trains it or pass --checkpoint"
            )
    try:
        meta = json.loads(js.read_text())
    except json.JSONDecodeError as e:
        raise HarnessError(
            f"checkpoint metadata {js} is not valid JSON ({e.msg}); the file is corrupt, re-create it"
        ) from e
    digest = sha256_file(st)
    if digest != meta.get("sha256"):
        raise HarnessError(
            f"checkpoint {st} is corrupt: sha256 {digest[:12]}… does not match {str(meta.get('sha256'))[:12]}… in "
            f"{js.name}; re-create it"
        )
    if expect_config is not None and config_hash(expect_config) != meta.get("config_hash"):
        diff = sorted(
            k for k in set(expect_config) | set(meta["config"]) if expect_config.get(k) != meta["config"].get(k)
        )
        raise HarnessError(
            f"checkpoint {st} was made with a different config (differs in {diff}); use matching options or retrain"
        )
    return load_file(st), meta


_HELD_LOCKS: dict[str, int] = {}  # folder -> fd, held until the process exits (the kernel drops it on any death)


def lock_folder(folder: str | Path, what: str = "run") -> None:
    """Make this process the only writer of `folder`, or refuse in one line naming the holder.

    An flock on `<folder>/.lock`: the kernel releases it when the holder dies, SIGKILL included, so
    a killed run never leaves a stale lock and re-running the same command resumes."""
    import fcntl

    folder = Path(folder)
    key = str(folder.resolve())
    if key in _HELD_LOCKS:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise HarnessError(f"cannot write to {folder}: {e.strerror}; choose a writable output folder") from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise HarnessError(
            f"{what} folder {folder} is in use by {holder}; wait for it to finish or pass another --out"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {os.uname().nodename}".encode(), 0)
    _HELD_LOCKS[key] = fd
