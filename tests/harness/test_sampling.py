"""Seed-keyed sharded sampling: any batch size or process count gives the same samples; a killed run resumes."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from harness.sampling import finished_seeds, load_shards, run_sharded

sys.path.insert(0, str(Path(__file__).parent))
from sharded_worker import cond_of, make_generator, process  # noqa: E402

WORKER = Path(__file__).with_name("sharded_worker.py")
SEEDS = list(range(30))


def test_batch_size_does_not_change_samples(tmp_path):
    gen = make_generator()
    run_sharded(tmp_path / "b7", SEEDS, cond_of, gen.generate, process, batch=7)
    run_sharded(tmp_path / "b64", SEEDS, cond_of, gen.generate, process, batch=64)
    a, b = load_shards(tmp_path / "b7", SEEDS)["pixels"], load_shards(tmp_path / "b64", SEEDS)["pixels"]
    assert np.array_equal(a, b)


def test_interrupted_run_resumes_without_regenerating(tmp_path):
    gen = make_generator()
    generated: list[int] = []

    def counting(cond, seeds):
        generated.extend(seeds)
        return gen.generate(cond, seeds)

    run_sharded(tmp_path, SEEDS[:12], cond_of, counting, process, batch=5)  # "killed" after 12 seeds
    assert finished_seeds(tmp_path) == set(range(12))
    stats = run_sharded(tmp_path, SEEDS, cond_of, counting, process, batch=8)
    assert stats == {"generated": 18, "skipped": 12}
    assert sorted(generated) == SEEDS  # every seed generated exactly once
    ref = tmp_path.parent / "ref"
    run_sharded(ref, SEEDS, cond_of, gen.generate, process, batch=30)
    assert np.array_equal(load_shards(tmp_path, SEEDS)["pixels"], load_shards(ref, SEEDS)["pixels"])


def test_two_processes_match_one(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, str(WORKER), str(tmp_path / "one"), "8"], check=True, env=env, timeout=300)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            "29519",
            str(WORKER),
            str(tmp_path / "two"),
            "4",
        ],
        check=True,
        env=env,
        timeout=300,
        capture_output=True,
    )
    a, b = load_shards(tmp_path / "one", SEEDS)["pixels"], load_shards(tmp_path / "two", SEEDS)["pixels"]
    assert np.array_equal(a, b)
