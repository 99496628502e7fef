import json
import multiprocessing as mp
import os
import stat

import pytest

from leaderboards import store
from leaderboards.store import (
    LeaderboardError,
    PartialLineWarning,
    append_row,
    diff,
    format_diff,
    freeze,
    latest,
    read_rows,
    summarize_seeds,
    validate_row,
)


def test_round_trip(root, measured):
    row = measured()
    written = append_row("shapes-fid", row)
    assert read_rows("shapes-fid") == [written] == [row]
    assert (root / "data" / "shapes-fid.jsonl").read_text().count("\n") == 1


def test_root_argument_beats_env(root, tmp_path_factory, measured):
    other = tmp_path_factory.mktemp("other")
    append_row("shapes-fid", measured(), root=other)
    assert read_rows("shapes-fid") == [] and len(read_rows("shapes-fid", root=other)) == 1


def test_validation_is_one_line(root, measured):
    bad = measured()
    del bad["provenance"]
    with pytest.raises(LeaderboardError, match="provenance") as e:
        append_row("shapes-fid", bad)
    assert "\n" not in str(e.value)
    with pytest.raises(LeaderboardError, match="task of suite"):
        validate_row({**measured(), "task": "t2i"})
    with pytest.raises(LeaderboardError, match="did you mean 'shapes-fid'"):
        append_row("shapes-fd", measured())
    assert not (root / "data").exists() or not list((root / "data").iterdir())


def _append_many(root: str, who: int, n: int) -> None:
    from leaderboards.store import DEFAULT_PROTOCOL, append_row

    for i in range(n):
        row = {
            "schema_version": 1,
            "suite": "shapes-fid",
            "protocol": DEFAULT_PROTOCOL["shapes-fid"],
            "task": "shapes",
            "method": f"m{who}",
            "variant": f"{i}",
            "label": "x" * 3000,
            "steps": 1,
            "metrics": {"fid": {"mean": float(i)}},
            "attributes": {},
            "source": "measured",
            "ablation": False,
            "provenance": {
                "git_commit": None,
                "config_hash": "h",
                "checkpoint_sha256": None,
                "packages": {},
                "hardware": "cpu",
                "wall_time_s": 0.0,
                "date": "d",
            },
        }
        append_row("shapes-fid", row, root=root)


def test_concurrent_appends_all_land(root):
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(str(root), w, 50)) for w in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    lines = (root / "data" / "shapes-fid.jsonl").read_text().splitlines()
    assert len(lines) == 100
    rows = [json.loads(ln) for ln in lines]
    for r in rows:
        validate_row(r)
    assert {(r["method"], r["variant"]) for r in rows} == {(f"m{w}", f"{i}") for w in (0, 1) for i in range(50)}


def test_partial_trailing_line_is_skipped_then_repaired(root, measured):
    append_row("shapes-fid", measured(method="a"))
    path = root / "data" / "shapes-fid.jsonl"
    full = json.dumps(measured(method="b"))
    with open(path, "a") as f:
        f.write(full[: len(full) // 2])  # a writer killed mid-line
    with pytest.warns(PartialLineWarning, match=r"shapes-fid.jsonl:2"):
        rows = read_rows("shapes-fid")
    assert [r["method"] for r in rows] == ["a"]
    with pytest.warns(PartialLineWarning, match="removed a partial"):
        append_row("shapes-fid", measured(method="c"))
    assert [r["method"] for r in read_rows("shapes-fid")] == ["a", "c"]


def test_complete_row_without_newline_is_kept(root, measured):
    path = root / "data" / "shapes-fid.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(measured(method="a")))
    assert [r["method"] for r in read_rows("shapes-fid")] == ["a"]
    append_row("shapes-fid", measured(method="b"))
    assert [r["method"] for r in read_rows("shapes-fid")] == ["a", "b"]


def test_malformed_middle_line_names_file_and_line(root, measured):
    append_row("shapes-fid", measured(method="a"))
    path = root / "data" / "shapes-fid.jsonl"
    with open(path, "a") as f:
        f.write("{not json\n")
    append_row("shapes-fid", measured(method="b"))
    with pytest.raises(LeaderboardError, match=r"shapes-fid\.jsonl:2: malformed JSON") as e:
        read_rows("shapes-fid")
    assert "\n" not in str(e.value)


def test_latest_keeps_last_row_per_key(root, measured):
    append_row("shapes-fid", measured(metrics={"fid": [20.0]}))
    append_row("shapes-fid", measured(metrics={"fid": [10.0]}))
    rows = read_rows("shapes-fid")
    assert len(rows) == 2 and [r["metrics"]["fid"]["mean"] for r in latest(rows)] == [10.0]


def test_freeze_creates_new_versions_and_never_edits(root, measured):
    append_row("shapes-fid", measured(method="a"))
    v1 = freeze("shapes-fid")
    assert v1.name == "shapes-fid@v1.jsonl"
    before = v1.read_bytes()
    assert not os.stat(v1).st_mode & stat.S_IWUSR
    with pytest.raises(LeaderboardError, match="unchanged since release v1"):
        freeze("shapes-fid")
    append_row("shapes-fid", measured(method="b"))
    v2 = freeze("shapes-fid")
    assert v2.name == "shapes-fid@v2.jsonl"
    assert v1.read_bytes() == before
    assert len(store.read_jsonl(v2)) == 2 and len(store.read_jsonl(v1)) == 1
    assert store.resolve_board("shapes-fid@v1") == v1
    with pytest.raises(LeaderboardError, match="no release shapes-fid@v9"):
        store.resolve_board("shapes-fid@v9")


def test_diff_flags_protocol_change(root, measured):
    append_row("shapes-fid", measured(method="a"))
    append_row("shapes-fid", measured(method="gone"))
    v1 = freeze("shapes-fid")
    append_row("shapes-fid", measured(method="a", protocol="shapes-fid@2", metrics={"fid": [9.0, 9.1]}))
    append_row("shapes-fid", measured(method="new"))
    live = root / "data" / "shapes-fid.jsonl"
    d = diff(v1, live)
    assert [r["method"] for r in d.added] == ["new"]
    assert d.removed == []  # 'gone' is still on the live board (append-only)
    assert len(d.changed) == 1 and d.changed[0].protocol_changed
    assert d.changed[0].deltas["fid"][1] == pytest.approx(9.05)
    text = format_diff(d)
    assert "! shapes-fid measured a" in text and "PROTOCOL shapes-fid@1 -> shapes-fid@2" in text
    assert "1 with a changed protocol" in text


def test_summarize_seeds():
    one = summarize_seeds([0.5])
    assert one == {"mean": 0.5, "values": [0.5]}
    s = summarize_seeds([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0
    # t_{0.975,2} = 4.303, s = 1, n = 3
    assert s["interval"] == pytest.approx([2 - 4.303 / 3**0.5, 2 + 4.303 / 3**0.5])
    with pytest.raises(LeaderboardError):
        summarize_seeds([])


def test_shipped_paper_rows_are_valid_and_complete():
    geneval = read_rows("geneval", root=store.Path(store.__file__).parent)
    imagenet = read_rows("imagenet256", root=store.Path(store.__file__).parent)
    tables = [r["paper_table"] for r in geneval + imagenet]
    assert tables.count("Table 1") == 14 and tables.count("Table 2") == 13
    assert [tables.count(t) for t in ("Table 3a", "Table 3b", "Table 4a", "Table 4b")] == [4, 2, 3, 4]
    assert all(r["source"] == "paper" and r["ablation"] == (r["paper_table"][-1] in "ab") for r in geneval + imagenet)
    assert len(latest(geneval)) == len(geneval) and len(latest(imagenet)) == len(imagenet)  # keys unique
    fpd = next(r for r in imagenet if r["method"] == "fpd")
    assert fpd["metrics"]["fid"]["mean"] == 6.90 and fpd["steps"] == 1
    di4c = next(r for r in imagenet if r["variant"] == "d")
    assert "precision" not in di4c["metrics"]


def test_measured_row_helper(root):
    prov = store.provenance({"lr": 1e-3}, wall_time_s=2.0)
    assert set(prov) == {
        "git_commit",
        "config_hash",
        "checkpoint_sha256",
        "packages",
        "hardware",
        "wall_time_s",
        "date",
    }
    row = store.measured_row(
        "shapes-geneval",
        "fpd",
        1,
        {"overall": [0.5, 0.6, 0.55]},
        label="Shapes FPD",
        provenance=prov,
        eval={"num_samples": 512},
    )
    assert row["task"] == "shapes-t2i" and row["protocol"] == "shapes-geneval@1"
    assert row["metrics"]["overall"]["interval"][0] < 0.55 < row["metrics"]["overall"]["interval"][1]
    append_row("shapes-geneval", row)
    assert read_rows("shapes-geneval") == [row]


def test_killed_writer_never_leaves_a_bad_row(root):
    import signal
    import time

    ctx = mp.get_context("fork")
    p = ctx.Process(target=_append_many, args=(str(root), 7, 100000))
    p.start()
    path = root / "data" / "shapes-fid.jsonl"
    deadline = time.time() + 20
    while (not path.exists() or path.stat().st_size < 50_000) and time.time() < deadline:
        time.sleep(0.01)
    os.kill(p.pid, signal.SIGKILL)
    p.join(10)
    rows = read_rows("shapes-fid")  # every complete line validates; a partial tail would only warn
    assert len(rows) >= 10
    append_row("shapes-fid", {**rows[0], "method": "after"})
    assert read_rows("shapes-fid")[-1]["method"] == "after"


@pytest.mark.parametrize(
    "change,needle",
    [
        ({"method": "FPD"}, "method"),
        ({"extra_field": 1}, "extra_field"),
        ({"steps": 0}, "steps"),
        ({"protocol": "shapes fid"}, "protocol"),
        ({"metrics": {"fid": {"mean": 1.0, "interval": [2.0, 3.0]}}}, "interval"),
        ({"metrics": {"FID": {"mean": 1.0}}}, "FID"),
        ({"metrics": {"fid": {"mean": float("nan")}}}, "finite"),
    ],
)
def test_schema_rejects_bad_rows_in_one_line(measured, change, needle):
    with pytest.raises(LeaderboardError, match=needle) as e:
        validate_row({**measured(), **change})
    assert "\n" not in str(e.value)
