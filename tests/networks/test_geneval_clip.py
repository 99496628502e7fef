"""GenEval's colour CLIP: shapes read from the file, open_clip state dicts and OpenAI-style TorchScript archives
through the same strict loader (torch.load(weights_only=True) refuses TorchScript, so open_clip >= 2.29 cannot)."""

from __future__ import annotations

import pytest
import torch

from harness.errors import HarnessError
from harness.networks import fixtures as fx
from harness.networks.geneval_clip import load_geneval_clip


@pytest.fixture(scope="module")
def reduced(tmp_path_factory):
    model = fx.build_geneval_clip(config=fx.reduced_config("geneval_clip")).eval()
    path = fx.save_official_state_dict(model, tmp_path_factory.mktemp("clip") / "open_clip_pytorch_model.bin")
    return model, path


def _same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_open_clip_state_dict_loads_with_the_shapes_it_holds(reduced):
    model, path = reduced
    loaded, transform, tokenizer, cfg = load_geneval_clip(path)
    assert cfg["vision_cfg"]["width"] == 64 and cfg["text_cfg"]["width"] == 48 and cfg["embed_dim"] == 32
    assert cfg["vision_cfg"]["image_size"] == 224 and cfg["text_cfg"]["heads"] == 12  # heads: ViT-L-14's
    _same(model, loaded)
    from PIL import Image

    img = transform(Image.new("RGB", (300, 200), "red"))[None]
    with torch.no_grad():
        torch.testing.assert_close(loaded.encode_image(img), model.encode_image(img))
        ids = tokenizer(["a photo of a red car"])
        torch.testing.assert_close(loaded.encode_text(ids), model.encode_text(ids))


def test_torchscript_archive_loads_without_unpickling(reduced, tmp_path):
    model, _ = reduced
    ts = torch.jit.trace(model, (torch.zeros(1, 3, 224, 224), torch.zeros(1, 77, dtype=torch.long)), check_trace=False)
    path = tmp_path / "ViT-L-14.pt"
    torch.jit.save(ts, str(path))
    _same(model, load_geneval_clip(path)[0])


def test_a_width_the_preset_heads_cannot_split_is_one_line(tmp_path):
    cfg = fx.reduced_config("geneval_clip")
    cfg["text_cfg"] = {**cfg["text_cfg"], "width": 50, "heads": 2}  # 50 does not split into ViT-L-14's 12 text heads
    path = fx.save_official_state_dict(fx.build_geneval_clip(config=cfg), tmp_path / "odd.bin")
    with pytest.raises(HarnessError, match="12 text heads") as e:
        load_geneval_clip(path)
    assert "\n" not in str(e.value)
