import shutil
from pathlib import Path

import pytest

from leaderboards.store import DEFAULT_PROTOCOL, SUITES, summarize_seeds

SHIPPED = Path(__file__).resolve().parents[2] / "leaderboards"


@pytest.fixture
def root(tmp_path, monkeypatch):
    """An empty leaderboard root; FPD_LEADERBOARD_DIR points at it so the CLI sees it too."""
    monkeypatch.setenv("FPD_LEADERBOARD_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def shipped_root(root):
    """A tmp copy of the shipped paper rows, so tests may append without touching the repo."""
    shutil.copytree(SHIPPED / "data", root / "data")
    return root


def _measured(
    suite="shapes-fid", method="fpd", variant="", steps=1, metrics=None, ablation=False, label=None, protocol=None
):
    metrics = metrics or {"fid": [12.0, 12.5, 11.9]}
    return {
        "schema_version": 1,
        "suite": suite,
        "protocol": protocol or DEFAULT_PROTOCOL[suite],
        "task": SUITES[suite],
        "method": method,
        "variant": variant,
        "label": label or f"Shapes-{method}",
        "steps": steps,
        "metrics": {k: summarize_seeds(v) for k, v in metrics.items()},
        "attributes": {"aux_score_net": False, "params": "1M"},
        "source": "measured",
        "ablation": ablation,
        "provenance": {
            "git_commit": "abc",
            "config_hash": "0" * 16,
            "checkpoint_sha256": "f" * 64,
            "packages": {"torch": "2.x"},
            "hardware": "cpu",
            "wall_time_s": 1.5,
            "date": "2026-01-01T00:00:00+00:00",
        },
    }


@pytest.fixture
def measured():
    return _measured
