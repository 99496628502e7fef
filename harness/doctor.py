"""`harness doctor --task imagenet`: which weight files a task needs, which are present, and where to get the rest.

Checks presence and sha256 only (loading a 0.6B-parameter file to check its keys is the loaders'
job, at the moment it is used). A file whose official digest is published and differs is reported
(it is not the official file) and fails only with --strict-hashes, so random-weight fixtures pass.
"""

from __future__ import annotations

from pathlib import Path

import typer

from harness.errors import HarnessError
from harness.io import sha256_file
from harness.presets import WeightFile, get_preset, locate, resolve_weights_dir


def _digest(w: WeightFile, p: Path) -> str:
    # a folder is identified by its weights file (the first of dir_files that holds tensors)
    target = p / w.dir_files[-1] if w.kind == "dir" else p
    return sha256_file(target)


def doctor(
    task: str, weights_dir: str | Path | None = None, *, strict_hashes: bool = False, include_optional: bool = True
) -> tuple[bool, list[str]]:
    """Report every weight file of `task`: (all required present, one line per file)."""
    preset = get_preset(task)
    root = resolve_weights_dir(weights_dir)
    ok, lines = True, [f"task {task}: weights folder {root}"]
    for w in preset.weights:
        if w.optional and not include_optional:
            continue
        tag = f"{w.relpath} ({w.purpose}{', optional' if w.optional else ''}) - {w.description}"
        p = locate(w, root)
        if p is None:
            if not w.optional:
                ok = False
            lines.append(f"[{'MISSING' if not w.optional else 'absent '}] {tag}; get it from {w.source}")
            continue
        digest = _digest(w, p)
        where = "" if p == root / w.relpath else f" (found in HF cache: {p})"
        if w.sha256 and digest != w.sha256:
            if strict_hashes:
                ok = False
            lines.append(
                f"[BADHASH] {tag}: sha256 {digest} != official {w.sha256}{where}; "
                f"not the official file, get it from {w.source}"
            )
        else:
            lines.append(f"[ok     ] {tag}: sha256 {digest}{where}")
    ok &= _suite_lines(task, preset, root, lines)
    lines.append(
        "all required files present"
        if ok
        else f"some required files are missing: put them under {root} (or pass --weights-dir / set FPD_WEIGHTS_DIR)"
    )
    return ok, lines


def _suite_lines(task: str, preset, root: Path, lines: list[str]) -> bool:
    """One line per paper suite of `task` (and per GenEval detector): the files it reads, from the list the suite
    itself checks before sampling (harness.paper_suites.suite_files). False if a default choice cannot run."""
    from harness.paper_suites import (
        DEFAULT_GENEVAL_DETECTOR,
        GENEVAL_DETECTORS,
        PAPER_SUITES,
        suite_files,
        suite_problems,
    )

    ok = True
    for suite in (s for s, t in PAPER_SUITES.items() if t == task):
        for det in GENEVAL_DETECTORS if suite == "geneval" else [None]:
            default = det in (None, DEFAULT_GENEVAL_DETECTOR)
            label = f"suite {suite}" + (
                f" --detector {det}{' (default)' if det == DEFAULT_GENEVAL_DETECTOR else ''}" if det else ""
            )
            reads = ", ".join(preset.weight(k).relpath for k in suite_files(suite, det)[1])
            problems = suite_problems(suite, det, weights_dir=root)
            if default and problems:
                ok = False
            status = "ready  " if not problems else "MISSING" if default else "absent "
            lines.append(f"[{status}] {label} reads {reads}" + (f": {'; '.join(problems)}" if problems else ""))
    return ok


def register(app: typer.Typer) -> None:
    """Add the `doctor` command to the harness CLI."""

    @app.command("doctor")
    def doctor_cmd(
        task: str = typer.Option("imagenet", "--task", help="Task preset whose files to check: imagenet or t2i."),
        weights_dir: str = typer.Option(
            None,
            "--weights-dir",
            help="Folder holding the official weight files "
            "(default: $FPD_WEIGHTS_DIR, else ~/.cache/fpd-harness/weights).",
        ),
        strict_hashes: bool = typer.Option(
            False, "--strict-hashes", help="Also fail when a file's sha256 differs from its published official digest."
        ),
    ) -> None:
        """List each required weight file: present with its sha256, or missing with where to get it."""
        try:
            ok, lines = doctor(task, weights_dir, strict_hashes=strict_hashes)
        except HarnessError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2)
        for line in lines:
            typer.echo(line)
        if not ok:
            raise typer.Exit(1)
