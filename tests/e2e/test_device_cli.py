"""The GPU path on a CPU machine, through the console script (issue 14 item 5): `--device cpu` and
`--precision bf16` on fixture weights, one-line errors for a bad device; and t2i captions read from a
parquet dataset through `datasets` (item 4)."""

import json
import math

import pytest

from helpers import run_console


@pytest.mark.parametrize(
    "args",
    [
        ["train", "fpd", "--task", "imagenet", "--device", "tpu"],
        ["sample", "--method", "teacher", "--device", "gpu0"],
        ["eval", "--method", "teacher", "--suite", "shapes-fid", "--device", "cuda:x"],
    ],
)
def test_a_bad_device_is_a_one_line_error_naming_the_choices(paper_env, args):
    env, root = paper_env
    code, out, err = run_console(args, cwd=root, env=env("imagenet"), timeout=120)
    assert code == 2 and err.strip().count("\n") == 0, err
    assert err.startswith("error: --device") and "choose cpu, cuda or cuda:N" in err


def test_fpd_trains_two_steps_in_bf16_on_the_cpu(paper_env):
    env, root = paper_env
    run = root / "fpd-imagenet-bf16"
    code, out, err = run_console(
        [
            "train",
            "fpd",
            "--task",
            "imagenet",
            "--steps",
            "2",
            "--set",
            "batch=2",
            "--out",
            run,
            "--device",
            "cpu",
            "--precision",
            "bf16",
        ],
        cwd=root,
        env=env("imagenet"),
        timeout=240,
    )
    assert code == 0, f"exited {code}:\n{out[-2000:]}\n{err[-3000:]}"
    res = json.loads(out)
    assert res["device"] == "cpu" and res["precision"] == "bf16"
    last = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines() if l.strip()][-1]
    assert last["step"] == 2 and math.isfinite(last["loss"])


def test_t2i_teacher_samples_captions_from_a_parquet_dataset_on_the_cpu(paper_env):
    """FPD_T2I_PROMPTS pointing at a parquet file (a LAION export's TEXT column) instead of a prompt file."""
    import datasets
    from PIL import Image

    env, root = paper_env
    captions = root / "laion-captions" / "data"
    captions.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_dict({"TEXT": ["a red car", "a blue bird"], "AESTHETIC_SCORE": [6.6, 6.9]}).to_parquet(
        captions / "train-00000-of-00001.parquet"
    )
    png = root / "t2i-parquet.png"
    code, out, err = run_console(
        [
            "sample",
            "--method",
            "teacher",
            "--task",
            "t2i",
            "--steps",
            "2",
            "--rows",
            "1",
            "--cols",
            "1",
            "--out",
            png,
            "--device",
            "cpu",
        ],
        cwd=root,
        env=env("t2i")
        | {
            "FPD_T2I_PROMPTS": str(captions.parent),
            "HF_DATASETS_OFFLINE": "1",
            "HF_DATASETS_CACHE": str(root / "hf-datasets"),
        },
        timeout=240,
    )
    assert code == 0, f"exited {code}:\n{out[-2000:]}\n{err[-3000:]}"
    with Image.open(png) as im:
        assert im.height >= 256
