"""Append-only JSON Lines leaderboards: validate, append atomically, read, freeze, diff.

Layout under the root (the `leaderboards/` package directory, or $FPD_LEADERBOARD_DIR, or `root=`):

    data/<suite>.jsonl          live board, one row per line, rows only ever appended
    releases/<suite>@v<N>.jsonl frozen copies of the live board, created once and never edited

A re-evaluation appends a new row; `latest()` keeps the last row per key, so history stays in the
file (and in `git diff`) while tables show the current number.
"""

from __future__ import annotations

import difflib
import fcntl
import hashlib
import json
import math
import os
import platform
import re
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Sequence

SCHEMA_VERSION = 1
SUITES: dict[str, str] = {  # suite -> task
    "imagenet256": "imagenet",
    "geneval": "t2i",
    "shapes-fid": "shapes",
    "shapes-geneval": "shapes-t2i",
}
DEFAULT_PROTOCOL = {
    "imagenet256": "imagenet256-adm@1",
    "geneval": "geneval@1",
    "shapes-fid": "shapes-fid@1",
    "shapes-geneval": "shapes-geneval@1",
}
GENEVAL_METRICS = ("single_object", "two_object", "counting", "colors", "position", "color_attr", "overall")
FID_METRICS = ("fid", "is", "precision", "recall")
LOWER_IS_BETTER = frozenset({"fid", "steps"})
KEY_FIELDS = ("suite", "method", "variant", "steps", "source", "task")
# Canonical key order on disk, so that lines of the same kind diff cleanly.
FIELD_ORDER = (
    "schema_version",
    "suite",
    "protocol",
    "task",
    "method",
    "variant",
    "label",
    "steps",
    "metrics",
    "attributes",
    "source",
    "ablation",
    "paper_table",
    "citation",
    "provenance",
    "eval",
    "notes",
)
_PROVENANCE_FIELDS = ("git_commit", "config_hash", "checkpoint_sha256", "packages", "hardware", "wall_time_s", "date")
_RELEASE_RE = re.compile(r"^(?P<suite>[a-z0-9-]+)@v(?P<n>[0-9]+)\.jsonl$")


class LeaderboardError(ValueError):
    """One-line, user-facing problem with a leaderboard file or row."""


class PartialLineWarning(UserWarning):
    """A trailing line without newline that does not parse: an interrupted write, skipped."""


# ---------------------------------------------------------------- paths


def board_root(root: str | Path | None = None) -> Path:
    """`root`, else $FPD_LEADERBOARD_DIR, else the package directory (shipped with the repo)."""
    if root is not None:
        return Path(root)
    env = os.environ.get("FPD_LEADERBOARD_DIR")
    return Path(env) if env else Path(__file__).resolve().parent


def check_suite(suite: str) -> str:
    if suite in SUITES:
        return suite
    close = difflib.get_close_matches(suite, list(SUITES), n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise LeaderboardError(f"unknown suite '{suite}'{hint} (suites: {', '.join(SUITES)})")


def live_path(suite: str, root: str | Path | None = None) -> Path:
    return board_root(root) / "data" / f"{check_suite(suite)}.jsonl"


def releases(suite: str, root: str | Path | None = None) -> list[tuple[int, Path]]:
    """Frozen releases of `suite`, sorted by version."""
    check_suite(suite)
    rel = board_root(root) / "releases"
    out = []
    if rel.is_dir():
        for p in rel.iterdir():
            m = _RELEASE_RE.match(p.name)
            if m and m["suite"] == suite:
                out.append((int(m["n"]), p))
    return sorted(out)


def resolve_board(spec: str, root: str | Path | None = None) -> Path:
    """A file path, `<suite>@v<N>` (a release) or `<suite>` (the live board) -> path."""
    p = Path(spec)
    if p.is_file():
        return p
    m = re.fullmatch(r"(?P<suite>[a-z0-9-]+)@v(?P<n>[0-9]+)", spec)
    if m:
        path = board_root(root) / "releases" / f"{check_suite(m['suite'])}@v{int(m['n'])}.jsonl"
        if not path.exists():
            have = ", ".join(f"v{n}" for n, _ in releases(m["suite"], root)) or "none"
            raise LeaderboardError(f"no release {spec} (releases of {m['suite']}: {have})")
        return path
    if spec.endswith(".jsonl") or "/" in spec:
        raise LeaderboardError(f"no such leaderboard file: {spec}")
    return live_path(spec, root)


# ---------------------------------------------------------------- validation


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


_SCHEMA_PATH = Path(__file__).resolve().parent / "schema.json"
_VALIDATOR = None


def _validator():
    """The Draft 2020-12 validator of leaderboards/schema.json (built once)."""
    global _VALIDATOR
    if _VALIDATOR is None:
        from jsonschema import Draft202012Validator

        schema = json.loads(_SCHEMA_PATH.read_text())
        Draft202012Validator.check_schema(schema)
        _VALIDATOR = Draft202012Validator(schema)
    return _VALIDATOR


def _schema_message(err) -> str:
    """One readable line for a jsonschema error, naming the field."""
    where = ".".join(str(p) for p in err.absolute_path) or "row"
    if err.validator == "required" and err.absolute_path == [] and isinstance(err.instance, dict):
        missing = [k for k in err.validator_value if k not in err.instance]
        return f"missing field(s) {', '.join(missing)}"
    if err.validator == "additionalProperties":
        return f"{where}: {err.message}"
    if err.validator == "not" and isinstance(err.instance, dict):
        src = err.instance.get("source")
        return "paper rows carry no provenance" if src == "paper" else "measured rows must not claim a paper_table"
    return f"{where}: {err.message}"


def validate_row(row: Any) -> None:
    """Raise LeaderboardError (one line) unless `row` satisfies leaderboards/schema.json (checked with
    jsonschema) and the rules a schema cannot state: finite numbers, an interval around its mean."""

    def bad(msg: str) -> None:
        raise LeaderboardError(
            f"invalid row ({row.get('method', '?')}/{row.get('variant', '?')}): {msg}"
            if isinstance(row, dict)
            else f"invalid row: {msg}"
        )

    if not isinstance(row, dict):
        bad("not a JSON object")
    suite = row.get("suite")
    if isinstance(suite, str) and suite not in SUITES:
        check_suite(suite)  # one line with a did-you-mean
    if suite in SUITES and "task" in row and row["task"] != SUITES[suite]:
        bad(f"task of suite {suite} is '{SUITES[suite]}', not {row['task']!r}")
    errors = list(_validator().iter_errors(row))
    if errors:
        from jsonschema.exceptions import best_match

        bad(_schema_message(best_match(errors)))
    for name, m in row["metrics"].items():
        if not _num(m["mean"]) or not all(_num(v) for v in m.get("values", [])):
            bad(f"metric {name}: mean and values must be finite numbers")
        if "interval" in m:
            iv = m["interval"]
            if not (all(_num(v) for v in iv) and iv[0] <= m["mean"] + 1e-9 and m["mean"] <= iv[1] + 1e-9):
                bad(f"metric {name}: interval must be [lo, hi] around the mean")
    prov = row.get("provenance")
    if isinstance(prov, dict) and not _num(prov.get("wall_time_s")):
        bad("provenance.wall_time_s must be a finite non-negative number")


def canonical(row: dict) -> dict:
    """Same row, keys in FIELD_ORDER (so lines diff cleanly)."""
    return {k: row[k] for k in FIELD_ORDER if k in row}


def row_key(row: dict) -> tuple:
    return tuple(row.get(k) for k in KEY_FIELDS)


def latest(rows: Iterable[dict]) -> list[dict]:
    """Last row per key, in order of each key's first appearance (re-runs supersede, history kept)."""
    out: dict[tuple, dict] = {}
    for r in rows:
        out[row_key(r)] = r
    return list(out.values())


# ---------------------------------------------------------------- statistics

# Two-sided 95% Student-t critical values t_{0.975, df}, df = 1..30; beyond that 1.96 is within 2%.
_T975 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)


def summarize_seeds(values: Sequence[float]) -> dict:
    """{"mean", "values", "interval"} from per-seed values.

    The interval is the 95% Student-t interval of the mean, mean ± t_{0.975,n-1}·s/√n (s the sample
    std). With 3 seeds that is ±2.48 s — wide, but honest for so few seeds; a normal 1.96·sem
    interval would claim far more certainty than 3 samples give. No interval with one seed.
    """
    vals = [float(v) for v in values]
    if not vals or not all(math.isfinite(v) for v in vals):
        raise LeaderboardError("summarize_seeds needs at least one finite value")
    n = len(vals)
    mean = sum(vals) / n
    out: dict[str, Any] = {"mean": mean, "values": vals}
    if n >= 2:
        s = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1))
        t = _T975[n - 2] if n - 1 <= len(_T975) else 1.96
        half = t * s / math.sqrt(n)
        out["interval"] = [mean - half, mean + half]
    return out


# ---------------------------------------------------------------- provenance


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def _hardware() -> str:
    desc = f"{platform.machine()} {os.cpu_count()} cpu"
    torch = sys.modules.get("torch")  # only if the caller already imported it; never import torch here
    try:
        if torch is not None and torch.cuda.is_available():
            desc += f", {torch.cuda.get_device_name(0)}"
    except Exception:  # a broken CUDA setup must not lose a finished evaluation
        pass
    return desc


def provenance(
    config: dict,
    checkpoint: str | Path | None = None,
    wall_time_s: float = 0.0,
    packages: Sequence[str] = ("fpd-harness", "torch", "torchvision", "numpy", "torch-fidelity"),
) -> dict:
    """Provenance block for a measured row: commit, config hash, checkpoint sha256, versions, hardware."""
    ck = None
    if checkpoint is not None:
        h = hashlib.sha256()
        with open(checkpoint, "rb") as f:
            while b := f.read(1 << 20):
                h.update(b)
        ck = h.hexdigest()
    vers: dict[str, str | None] = {"python": platform.python_version()}
    for p in packages:
        try:
            vers[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            vers[p] = None
    return {
        "git_commit": _git_commit(),
        "config_hash": hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16],
        "checkpoint_sha256": ck,
        "packages": vers,
        "hardware": _hardware(),
        "wall_time_s": float(wall_time_s),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def measured_row(
    suite: str,
    method: str,
    steps: int | None,
    per_seed: dict[str, Sequence[float]],
    *,
    label: str,
    provenance: dict,
    variant: str = "",
    ablation: bool = False,
    attributes: dict | None = None,
    protocol: str | None = None,
    eval: dict | None = None,
) -> dict:
    """A validated measured row from per-seed metric values (what `harness eval` appends)."""
    row = {
        "schema_version": SCHEMA_VERSION,
        "suite": check_suite(suite),
        "protocol": protocol or DEFAULT_PROTOCOL[suite],
        "task": SUITES[suite],
        "method": method,
        "variant": variant,
        "label": label,
        "steps": steps,
        "metrics": {k: summarize_seeds(v) for k, v in per_seed.items()},
        "attributes": dict(attributes or {}),
        "source": "measured",
        "ablation": ablation,
        "provenance": provenance,
    }
    if eval is not None:
        row["eval"] = eval
    validate_row(row)
    return canonical(row)


# ---------------------------------------------------------------- reading


def _parse_lines(data: bytes, path: Path, validate: bool = True) -> list[dict]:
    rows = []
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    for i, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise LeaderboardError(f"{path}:{i}: malformed JSON line ({getattr(e, 'msg', e)})") from None
        if validate:
            try:
                validate_row(row)
            except LeaderboardError as e:
                raise LeaderboardError(f"{path}:{i}: {e}") from None
        rows.append(row)
    if tail.strip():
        try:
            row = json.loads(tail)
            if validate:
                validate_row(row)
            rows.append(row)  # complete row that only lacks its newline
        except (json.JSONDecodeError, UnicodeDecodeError, LeaderboardError):
            warnings.warn(
                f"{path}:{len(lines) + 1}: skipped a partial trailing line ({len(tail)} bytes; an interrupted write)",
                PartialLineWarning,
                stacklevel=3,
            )
    return rows


def read_jsonl(path: str | Path, validate: bool = True) -> list[dict]:
    """All rows of one board file (live or release); missing file -> []."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return []
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # never read while an append is between write and fsync
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read()
    finally:
        os.close(fd)
    return _parse_lines(data, path, validate)


def read_rows(suite: str, root: str | Path | None = None) -> list[dict]:
    """All rows of the live board of `suite`, oldest first (use `latest()` for current ones)."""
    return read_jsonl(live_path(suite, root))


# ---------------------------------------------------------------- writing


def _repair_tail(fd: int, path: Path) -> None:
    """Under the lock: drop a partial last line left by a killed writer, so the next row starts clean."""
    size = os.fstat(fd).st_size
    if size == 0:
        return
    start = max(0, size - (1 << 20))
    chunk = os.pread(fd, size - start, start)
    if chunk.endswith(b"\n"):
        return
    cut = chunk.rfind(b"\n")
    if cut < 0 and start > 0:
        raise LeaderboardError(f"{path}: last line longer than 1 MiB without newline; repair the file by hand")
    tail = chunk[cut + 1 :]
    try:
        validate_row(json.loads(tail))
        os.write(fd, b"\n")  # complete row missing only its newline: keep it
    except (json.JSONDecodeError, UnicodeDecodeError, LeaderboardError):
        os.ftruncate(fd, start + cut + 1)
        warnings.warn(
            f"{path}: removed a partial trailing line ({len(tail)} bytes) left by an interrupted write",
            PartialLineWarning,
            stacklevel=3,
        )


def append_row(suite: str, row: dict, root: str | Path | None = None) -> dict:
    """Validate `row` and append it as one line of the live board of `suite`; returns the row as written.

    Atomic with respect to other writers and crashes: an exclusive flock on the board file itself
    (no stray lock files in the repo) serialises writers, the whole line goes out in one write()
    on an O_APPEND descriptor, and fsync runs before the lock is released. A writer killed mid-write
    leaves at most a partial last line, which readers skip and the next writer removes.
    """
    check_suite(suite)
    if isinstance(row, dict) and row.get("suite") != suite:
        raise LeaderboardError(f"row is for suite {row.get('suite')!r}, not {suite!r}")
    validate_row(row)
    row = canonical(row)
    line = (json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n").encode()
    path = live_path(suite, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _repair_tail(fd, path)
        view = memoryview(line)
        while view:  # regular files write fully in one call; the loop is only a guard
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    finally:
        os.close(fd)  # releases the lock
    return row


def freeze(suite: str, root: str | Path | None = None) -> Path:
    """Copy the live board of `suite` to releases/<suite>@v<N+1>.jsonl (new file, read-only)."""
    src = live_path(suite, root)
    if not src.exists():
        raise LeaderboardError(f"nothing to freeze: {src} does not exist")
    fd = os.open(src, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read()
    finally:
        os.close(fd)
    rows = _parse_lines(data, src)  # refuse to freeze a board with a bad middle line
    if not rows:
        raise LeaderboardError(f"nothing to freeze: {src} has no rows")
    body = data if data.endswith(b"\n") else data[: data.rfind(b"\n") + 1]
    have = releases(suite, root)
    if have and have[-1][1].read_bytes() == body:
        raise LeaderboardError(f"{suite} is unchanged since release v{have[-1][0]} ({have[-1][1]})")
    n = have[-1][0] + 1 if have else 1
    dst = board_root(root) / "releases" / f"{suite}@v{n}.jsonl"
    dst.parent.mkdir(parents=True, exist_ok=True)
    out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)  # EXCL: never overwrite a release
    try:
        os.write(out, body)
        os.fsync(out)
    finally:
        os.close(out)
    os.chmod(dst, 0o444)
    return dst


# ---------------------------------------------------------------- diff


@dataclass
class Change:
    key: tuple
    old: dict
    new: dict
    fields: list[str]  # top-level fields that differ
    protocol_changed: bool
    deltas: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)


@dataclass
class Diff:
    added: list[dict]
    removed: list[dict]
    changed: list[Change]

    @property
    def protocol_changed(self) -> list[Change]:
        return [c for c in self.changed if c.protocol_changed]


def diff(old_path: str | Path, new_path: str | Path) -> Diff:
    """Rows added / removed / changed between two board files, keyed by KEY_FIELDS (last row per key)."""
    old = {row_key(r): r for r in latest(read_jsonl(old_path))}
    new = {row_key(r): r for r in latest(read_jsonl(new_path))}
    changed = []
    for k in old.keys() & new.keys():
        a, b = old[k], new[k]
        if a == b:
            continue
        fields = [f for f in FIELD_ORDER if a.get(f) != b.get(f)]
        names = [m for m in a["metrics"] if m in b["metrics"]] + [m for m in b["metrics"] if m not in a["metrics"]]
        names += [m for m in a["metrics"] if m not in b["metrics"]]
        deltas = {
            m: (a["metrics"].get(m, {}).get("mean"), b["metrics"].get(m, {}).get("mean"))
            for m in names
            if a["metrics"].get(m) != b["metrics"].get(m)
        }
        changed.append(Change(k, a, b, fields, a["protocol"] != b["protocol"], deltas))
    order = lambda r: tuple("" if v is None else str(v) for v in row_key(r))  # noqa: E731
    return Diff(
        added=sorted((new[k] for k in new.keys() - old.keys()), key=order),
        removed=sorted((old[k] for k in old.keys() - new.keys()), key=order),
        changed=sorted(changed, key=lambda c: order(c.new)),
    )


def _key_str(row: dict) -> str:
    v = f"[{row['variant']}]" if row["variant"] else ""
    steps = "-" if row["steps"] is None else row["steps"]
    return f"{row['suite']} {row['source']} {row['method']}{v} steps={steps} ({row['label']})"


def _within(row: dict, metric: str, value: float | None) -> bool:
    iv = row["metrics"].get(metric, {}).get("interval")
    return bool(iv and value is not None and iv[0] <= value <= iv[1])


def format_diff(d: Diff) -> str:
    """Human-readable diff; '!' marks incomparable rows (protocol changed)."""
    out = []
    for r in d.added:
        out.append(f"+ {_key_str(r)}  protocol={r['protocol']}")
    for r in d.removed:
        out.append(f"- {_key_str(r)}  protocol={r['protocol']}")
    for c in d.changed:
        mark = "!" if c.protocol_changed else "~"
        line = f"{mark} {_key_str(c.new)}"
        if c.protocol_changed:
            line += f"  PROTOCOL {c.old['protocol']} -> {c.new['protocol']} (numbers not comparable)"
        parts = []
        for m, (a, b) in c.deltas.items():
            if a is None or b is None:
                parts.append(f"{m}: {a} -> {b}")
            else:
                noise = " (within seed interval)" if _within(c.old, m, b) or _within(c.new, m, a) else ""
                parts.append(f"{m}: {a:.4g} -> {b:.4g} ({b - a:+.4g}){noise}")
        other = [f for f in c.fields if f not in ("metrics", "protocol")]
        if other:
            parts.append("fields: " + ", ".join(other))
        out.append(line + ("\n    " + "; ".join(parts) if parts else ""))
    summary = (
        f"{len(d.added)} added, {len(d.removed)} removed, {len(d.changed)} changed, "
        f"{len(d.protocol_changed)} with a changed protocol"
    )
    return "\n".join(out + [summary])
