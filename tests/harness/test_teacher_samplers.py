"""One place decides a teacher's sampler: the preset's "sampler" picks MaskGIT's or MaskGen's algorithm,
paper tasks take their teacher's published sampler, and the row records which one ran."""

import json

import pytest
import torch

from harness.assets import asset_path
from harness.errors import HarnessError
from harness.networks.maskgen import MaskGenSampler
from harness.sampler_presets import build_teacher_sampler, teacher_preset
from helpers import run_console, tiny
from methods.teacher_sampler import TeacherSampler


class _Tok:
    codebook_size = 32

    def decode(self, tokens, cond=None):
        return tokens[:, None, :, None].float().expand(-1, 3, -1, 4) / 16 - 1  # any image-shaped function of the ids


def test_paper_tasks_take_their_teachers_published_sampler():
    t2i, inet = teacher_preset("t2i")["settings"], teacher_preset("imagenet")["settings"]
    assert t2i["sampler"] == "maskgen" and t2i["guidance_scale"] == 12.0 and t2i["randomize_temperature"] == 2.0
    assert inet["sampler"] == "maskgit" and inet["w"] == 3.0 and inet["r_temp"] == 4.5


def test_maskgen_sampler_is_per_sample_deterministic():
    gen, desc = build_teacher_sampler(tiny(), _Tok(), 4, {"sampler": "maskgen", "guidance_scale": 3.0})
    assert isinstance(gen, MaskGenSampler) and desc["sampler"] == "maskgen" and desc["steps"] == 4
    cond = torch.tensor([1, 2, 2])
    both = gen.sample_tokens(cond, [5, 6, 7])
    alone = gen.sample_tokens(cond[1:2], [6])
    assert torch.equal(both[1:2], alone) and not torch.equal(both[1], both[2])  # batch-independent, seed-dependent
    assert int(both.max()) < 32


def test_unknown_sampler_settings_are_one_line_errors():
    gen, desc = build_teacher_sampler(tiny(), _Tok(), 2, {"w": 1.0})
    assert isinstance(gen, TeacherSampler) and "sampler" not in desc  # the default algorithm, described as before
    with pytest.raises(HarnessError, match="unknown sampler 'dpm'"):
        build_teacher_sampler(tiny(), _Tok(), 2, {"sampler": "dpm"})
    with pytest.raises(HarnessError, match=r"sampler .maskgen. has no setting \[.w.\]"):
        build_teacher_sampler(tiny(), _Tok(), 2, {"sampler": "maskgen", "w": 3.0})


@pytest.mark.skipif(not asset_path("teacher_shapes_t2i").exists(), reason="shipped networks not built yet")
def test_eval_row_records_the_maskgen_sampler(tmp_path):
    presets = tmp_path / "presets.json"
    presets.write_text(
        json.dumps(
            {
                "shapes-t2i": {
                    "name": "maskgen-style",
                    "settings": {"sampler": "maskgen", "guidance_scale": 3.0, "randomize_temperature": 2.0},
                }
            }
        )
    )
    out = tmp_path / "eval"
    code, _, err = run_console(
        [
            "eval",
            "--method",
            "teacher",
            "--suite",
            "shapes-geneval",
            "--steps",
            "4",
            "--seeds",
            "1000000-1000007",
            "--no-append",
            "--out",
            out,
        ],
        cwd=tmp_path,
        env={"FPD_SAMPLER_PRESETS": str(presets), "OMP_NUM_THREADS": "1"},
    )
    assert code == 0, err
    gen = json.loads((out / "results.json").read_text())["generator"]
    assert gen["sampler_preset"] == "maskgen-style" and gen["sampler"]["sampler"] == "maskgen"
    assert gen["sampler"]["guidance_scale"] == 3.0 and gen["sampler"]["steps"] == 4


def test_a_maskgen_preset_keeps_the_maskgit_preset_sdtt_samples_with(tmp_path, monkeypatch):
    from harness.sampler_presets import maskgit_settings, store_preset

    monkeypatch.setenv("FPD_SAMPLER_PRESETS", str(tmp_path / "p.json"))
    store_preset("shapes-t2i", "mg-old", {"w": 2.0, "r_temp": 1.5}, {})
    assert maskgit_settings("shapes-t2i") == {"w": 2.0, "r_temp": 1.5}
    store_preset("shapes-t2i", "mgen", {"sampler": "maskgen", "guidance_scale": 1.5}, {})
    store_preset("shapes-t2i", "mgen2", {"sampler": "maskgen", "guidance_scale": 2.0}, {})  # carried over again
    assert teacher_preset("shapes-t2i") == {"name": "mgen2", "settings": {"sampler": "maskgen", "guidance_scale": 2.0}}
    assert maskgit_settings("shapes-t2i") == {"w": 2.0, "r_temp": 1.5}
    store_preset("shapes", "mgen", {"sampler": "maskgen"}, {})  # no MaskGIT preset before: the built-in defaults
    from harness.registry import TASKS

    assert maskgit_settings("shapes") == TASKS["shapes"].teacher_defaults
