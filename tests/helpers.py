"""Helpers shared by several test files (importable because tests/conftest.py puts tests/ on sys.path)."""

import copy
import sys

import torch

from harness.networks.shapes_transformer import ShapesMaskTransformer, TransformerConfig


def run_cli(args, capsys):
    """Run `harness ARGS` in-process through the console entry point; (exit code, stdout, stderr)."""
    from harness import cli

    old = sys.argv
    sys.argv = ["harness", *map(str, args)]
    try:
        cli.main()
        code = 0
    except SystemExit as e:
        code = e.code
    finally:
        sys.argv = old
    out = capsys.readouterr()
    return code, out.out, out.err


def tiny(seed: int = 0, num_tokens: int = 16, codebook_size: int = 32) -> ShapesMaskTransformer:
    """A tiny random shapes-layout transformer."""
    torch.manual_seed(seed)
    return ShapesMaskTransformer(
        TransformerConfig(num_tokens=num_tokens, codebook_size=codebook_size, width=32, depth=1, heads=2)
    ).eval()


def perturbed(model, seed: int, scale: float = 0.3):
    """A copy of `model` with seeded noise added to every parameter (a different but related network)."""
    m = copy.deepcopy(model)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))
    return m


def harness_bin() -> str:
    """The installed `harness` console script of this environment (what users run)."""
    from pathlib import Path

    exe = Path(sys.executable).parent / "harness"
    assert exe.exists(), f"console script not installed at {exe}; run `make install`"
    return str(exe)


def run_console(args, cwd=None, env=None, timeout=300):
    """Run the installed `harness ARGS` in a subprocess; (exit code, stdout, stderr)."""
    import os
    import subprocess

    full_env = {**os.environ, "FPD_NO_PROGRESS": "1", **(env or {})}
    p = subprocess.run(
        [harness_bin(), *map(str, args)], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )
    return p.returncode, p.stdout, p.stderr
