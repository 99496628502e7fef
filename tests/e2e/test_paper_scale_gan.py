"""`harness train fpd --task imagenet --set gan=true` through the console script: the paper-scale projected
discriminator (reduced random timm files of the fixture folder) and real images from a local folder."""

import json
import math

from PIL import Image
from safetensors.torch import load_file

from helpers import run_console


def test_fpd_with_the_gan_trains_on_a_fixture_folder(paper_env):
    env, root = paper_env
    reals = root / "reals"
    reals.mkdir(exist_ok=True)
    for i, colour in enumerate(["red", "green", "blue"]):
        Image.new("RGB", (64, 48), colour).save(reals / f"{i}.png")
    run = root / "fpd-gan-imagenet"
    code, out, err = run_console(
        ["train", "fpd", "--task", "imagenet", "--steps", "2", "--set", "batch=2", "--set", "gan=true", "--out", run],
        cwd=root,
        timeout=300,
        env=env("imagenet") | {"FPD_REAL_IMAGES": str(reals), "HF_DATASETS_CACHE": str(root / "hf-datasets")},
    )
    assert code == 0, f"exited {code}:\n{out[-2000:]}\n{err[-3000:]}"
    last = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines() if l.strip()][-1]
    assert last["step"] == 2
    assert all(math.isfinite(last[k]) for k in ("loss", "loss_gan_g", "loss_d_real", "loss_d_fake"))
    disc = load_file(run / "checkpoints" / "step_0000002" / "disc.safetensors")  # heads + projections only
    assert {k.split(".")[0] for k in disc} == {"heads", "proj", "reassemble"}  # not the shapes D; no timm weights
