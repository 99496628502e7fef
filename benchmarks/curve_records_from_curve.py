"""Recover per-run records (runs/NAME.json, as `harness curve` now writes them) from a curve JSON written before
records existed, so that runs whose folders are gone can still join a curve.

    python benchmarks/curve_records_from_curve.py docs/curves/shapes/curve_shapes-fid.json shapes

A curve JSON keeps, per group, its run folders and each point's per-seed values in run order; a point that
fewer runs reached belongs to the first of them (the runs of a group are listed in name order, seed 0 first,
and every such shortfall in the committed curves is a later seed stopped early).
"""

import json
import sys
from pathlib import Path


def main(curve_json: str, task: str) -> None:
    cur = json.loads(Path(curve_json).read_text())
    out = Path(curve_json).parent / "runs"
    out.mkdir(exist_ok=True)
    for name, g in cur["groups"].items():
        if g.get("temp") is not None:
            continue
        for i, run in enumerate(g["runs"]):
            seed = int(run.rsplit("-s", 1)[1])
            scores = {}
            for p in g["points"]:
                if i < len(next(iter(p["values"].values()))):
                    scores[str(p["updates"])] = {k: v[i] for k, v in p["values"].items()}
            rec = {
                "run": run,
                "method": g["method"],
                "task": task,
                "suite": cur["suite"],
                "seeds": cur["seeds"],
                "temp": None,
                "train": {**cur["shared_settings"], **g["settings"], "seed": seed, "task": task},
                "scores": scores,
            }
            (out / f"{Path(run).name}.json").write_text(json.dumps(rec, indent=2, sort_keys=True) + "\n")
            print(f"{name}: {Path(run).name}, {len(scores)} points up to {max(map(int, scores))}")


if __name__ == "__main__":
    main(*sys.argv[1:])
