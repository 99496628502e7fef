"""The leaderboard rows of a `harness reproduce` run: one row per (suite, group) from the per-seed results.

Each row carries the mean, the per-seed values and a t-interval (leaderboards.store.measured_row), the
budget it ran at (label, eval block, provenance) and each seed's generator fingerprint. A ledger in the
run folder makes re-running a finished reproduce append nothing new.
"""

from __future__ import annotations

import json
from pathlib import Path


def _costs(result: dict) -> dict:
    return (result.get("generator") or {}).get("costs") or {}


def _fingerprints(results: list[dict]) -> dict:
    """Each seed's generator fingerprint, and the first one's description (its networks name the teacher)."""
    fps = [r["fingerprint"] for r in results if isinstance(r.get("fingerprint"), dict)]
    return {"fingerprints": [f["id"] for f in fps], "generator": fps[0]["generator"]} if fps else {}


def aggregate(jobs: list, budget: dict | None = None, ledger: Path | None = None) -> list[dict]:
    """One leaderboard row per (suite, group), from the per-seed results.json files of `jobs` (harness.reproduce.Job).

    `budget` (train_steps, n, set, train_precision) goes into each row's label, eval block and provenance. `ledger` (a
    JSON file in the run folder)
    remembers what was appended, so re-running a finished reproduce appends nothing new; a group that
    gained seeds appends a newer row, which supersedes the older one (latest row per key)."""
    from harness.registry import method_label
    from harness.io import write_json
    from leaderboards.store import append_row, measured_row, provenance

    budget = {k: v for k, v in (budget or {}).items() if v is not None}
    groups: dict[tuple, list[dict]] = {}
    for j in jobs:
        if j.kind == "eval" and j.done():
            r = json.loads(Path(j.args["marker"]).read_text())
            if "metrics" in r:
                r["_seed"] = j.args["seed"]
                groups.setdefault((j.args["suite"], j.args["group"]), []).append(r)
    done = json.loads(ledger.read_text()) if ledger and ledger.exists() else {}
    rows = []
    for (suite, group), results in groups.items():
        key, seeds = f"{suite}/{group}", sorted(r["_seed"] for r in results)
        if done.get(key) == {"seeds": seeds, **budget}:
            continue
        r0 = results[0]
        common = [k for k in r0["metrics"] if all(k in r["metrics"] for r in results)]  # a tag no seed lacks
        per_seed = {k: [float(r["metrics"][k]) for r in results] for k in common}
        budget_text = "".join(
            f", {t.format(v)}"
            for k, t in (
                ("train_steps", "{} updates"),
                ("n", "n={}"),
                ("set", "{}"),
                ("train_precision", "{} training"),
            )
            if (v := budget.get(k)) is not None
        )
        # The main t2i FPD run is Table 1's FPD-1 and also the STE cell (the reference) of Tables 3-4.
        variants = (
            [("", False), ("ste", True)]
            if (suite, group) == ("shapes-geneval", "fpd-1")
            else [(r0["variant"], bool(r0["variant"]))]
        )
        plural = "s" * (len(results) > 1)
        count = (
            f"{len(results)} sampling-seed block{plural}"
            if r0["method"] == "teacher"  # no training budget
            else f"{len(results)} seed{plural}{budget_text}"
        )
        for variant, ablation in variants:
            row = measured_row(
                suite,
                r0["method"],
                r0["steps"],
                per_seed,
                label=f"{method_label(r0['method'])}, {r0['steps']} step(s) [reproduce, {count}]",
                provenance=provenance(
                    {"reproduce": group, "training_seeds": seeds, **budget},
                    None,
                    sum(r["wall_time_s"] for r in results),
                ),
                variant=variant,
                ablation=ablation,
                attributes={
                    "aux_score_net": r0["method"] == "dimo" if r0["method"] != "teacher" else None,
                    **({"train_cost": costs} if (costs := _costs(r0)) else {}),
                },
                protocol=r0["protocol"],
                eval={
                    "n": r0["n"],
                    "seeds_run": len(results),
                    **budget,
                    ("sampling_seed_blocks" if r0["method"] == "teacher" else "training_seeds"): seeds,
                    **_fingerprints(results),
                },
            )
            append_row(suite, row)
            rows.append(row)
        done[key] = {"seeds": seeds, **budget}
        if ledger:
            write_json(ledger, done)
    return rows
