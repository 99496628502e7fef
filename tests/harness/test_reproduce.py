import json

from harness.reproduce import VARIANT_OVERRIDES, plan
from harness.reproduce_rows import aggregate
from harness.tables import ABLATION_VARIANTS, parse_variant


def test_every_table_cell_has_a_run():
    mapped = {tuple(sorted(parse_variant(v).items())) for v in VARIANT_OVERRIDES}
    for v in ABLATION_VARIANTS:
        assert tuple(sorted(parse_variant(v).items())) in mapped, v


def test_plan_covers_methods_and_seeds(tmp_path):
    jobs = plan(3, tmp_path, teacher_blocks=3)
    names = [j.name for j in jobs]
    default = [j.name for j in plan(3, tmp_path) if "eval teacher" in j.name]
    assert default and all(x.endswith("seed 0") for x in default)  # one teacher block unless asked
    assert sum("train fpd shapes-t2i" in n for n in names) == 3 * len(VARIANT_OVERRIDES)
    for n in (16, 8, 4, 2, 1):
        assert any(f"eval teacher main {n}-step on shapes-fid seed 2" in x for x in names)
    assert any("eval sdtt main 4-step" in x for x in names) and any("eval dimo" in x for x in names)
    for suite in ("shapes-fid", "shapes-geneval"):  # Tables 2 and 1: every distiller on both tasks
        assert {j.args["group"] for j in jobs if j.kind == "eval" and j.args["suite"] == suite} >= {
            "sdtt-4",
            "sdtt-1",
            "dimo-1",
            "fpd-1",
            "teacher-16",
            "teacher-1",
        }
    assert not any(j.done() for j in jobs)


def test_aggregate_makes_one_row_per_configuration(tmp_path, monkeypatch):
    monkeypatch.setenv("FPD_LEADERBOARD_DIR", str(tmp_path / "lb"))
    jobs = [
        j
        for j in plan(2, tmp_path)
        if j.kind == "eval" and j.args["group"] == "fpd-1" and j.args["suite"] == "shapes-fid"
    ]
    for s, j in enumerate(jobs):
        j.args["marker"].parent.mkdir(parents=True)
        j.args["marker"].write_text(
            json.dumps(
                {
                    "method": "fpd",
                    "steps": 1,
                    "variant": "",
                    "protocol": "shapes-fid@1",
                    "n": 5000,
                    "wall_time_s": 1.0,
                    "metrics": {"fid": 10.0 + s},
                }
            )
        )
    rows = aggregate(jobs)
    assert len(rows) == 1
    assert rows[0]["metrics"]["fid"]["values"] == [10.0, 11.0] and rows[0]["metrics"]["fid"]["mean"] == 10.5
    assert "interval" in rows[0]["metrics"]["fid"]


def test_aggregate_labels_name_the_training_budget_only_for_distillers(tmp_path, monkeypatch):
    """A teacher row has no training seed or updates: its label counts sampling-seed blocks instead."""
    monkeypatch.setenv("FPD_LEADERBOARD_DIR", str(tmp_path / "lb"))
    jobs = [
        j
        for j in plan(1, tmp_path, train_steps=150)
        if j.kind == "eval" and j.args["suite"] == "shapes-fid" and j.args["group"] in ("fpd-1", "teacher-16")
    ]
    for j in jobs:
        j.args["marker"].parent.mkdir(parents=True)
        j.args["marker"].write_text(
            json.dumps(
                {
                    "method": j.args["method"],
                    "steps": j.args["steps"],
                    "variant": "",
                    "protocol": "shapes-fid@1",
                    "n": 5000,
                    "wall_time_s": 1.0,
                    "metrics": {"fid": 10.0},
                }
            )
        )
    labels = {r["method"]: r["label"] for r in aggregate(jobs, {"train_steps": 150, "train_precision": "bf16"})}
    assert labels["fpd"].endswith("[reproduce, 1 seed, 150 updates, bf16 training]")
    assert labels["teacher"].endswith("[reproduce, 1 sampling-seed block]")
