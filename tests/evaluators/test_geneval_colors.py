"""Colour classifier: grey compositing + crop, weight lookup, and the zero-shot plumbing (fake CLIP)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from evaluators import geneval_colors as gc
from evaluators.errors import MissingWeights
from evaluators.geneval import COLORS


def synthetic():
    """20x30 image: red left half, blue right half; a mask covering a 6x6 red square + blue strip."""
    arr = np.zeros((20, 30, 3), np.uint8)
    arr[:, :15] = (255, 0, 0)
    arr[:, 15:] = (0, 0, 255)
    mask = np.zeros((20, 30), bool)
    mask[5:11, 4:10] = True
    return arr, mask


def test_color_crop_composites_over_grey_then_crops():
    arr, mask = synthetic()
    out = np.asarray(gc.color_crop(Image.fromarray(arr), [2, 3, 12, 13], mask))
    assert out.shape == (10, 10, 3)  # crop box [x1, y1, x2, y2) in pixels
    inside = out[5 - 3 : 11 - 3, 4 - 2 : 10 - 2]
    assert (inside == (255, 0, 0)).all()
    grey = np.ones(out.shape[:2], bool)
    grey[5 - 3 : 11 - 3, 4 - 2 : 10 - 2] = False
    assert (out[grey] == (153, 153, 153)).all()  # "#999"


def test_color_crop_options_and_inputs():
    arr, mask = synthetic()
    img = Image.fromarray(arr)
    # bgcolor "original" keeps the surroundings, crop=False keeps the full frame
    assert np.array_equal(np.asarray(gc.color_crop(img, [0, 0, 30, 20], mask, bgcolor="original")), arr)
    full = np.asarray(gc.color_crop(img, [0, 0, 1, 1], mask, crop=False))
    assert full.shape == (20, 30, 3) and (full[0, 29] == 153).all()
    # no mask: plain crop; float boxes are rounded by PIL's crop
    assert np.asarray(gc.color_crop(img, [14.6, 0, 20.4, 4], None)).shape == (4, 5, 3)
    # torch mask accepted; wrong-size mask rejected with a clear message
    gc.color_crop(img, [0, 0, 5, 5], torch.from_numpy(mask))
    with pytest.raises(ValueError, match="original image resolution"):
        gc.color_crop(img, [0, 0, 5, 5], mask[:10])
    # tensor / numpy images convert to the same PIL image
    t = torch.from_numpy(arr).permute(2, 0, 1).contiguous()
    assert np.array_equal(np.asarray(gc.to_pil(t)), arr)
    with pytest.raises(ValueError, match="uint8"):
        gc.to_pil(arr.astype(np.float32))


def test_missing_clip_weights_message(monkeypatch, tmp_path):
    monkeypatch.delenv(gc.ENV_VAR, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(MissingWeights) as e:
        gc.ColorClassifier()
    msg = str(e.value)
    assert "\n" not in msg and gc.HF_REPO in msg and gc.ENV_VAR in msg
    with pytest.raises(MissingWeights, match="is not a file"):
        gc.find_clip_weights(tmp_path / "nope.bin")
    f = tmp_path / "w.safetensors"
    f.write_bytes(b"x")
    monkeypatch.setenv(gc.ENV_VAR, str(f))
    assert gc.find_clip_weights() == f


class FakeCLIP(torch.nn.Module):
    """Text embedding = one-hot of the colour word in the prompt; image embedding = mean RGB
    projected onto per-colour prototypes, so argmax recovers the crop's dominant colour."""

    PROTO = {"red": (1, 0, 0), "blue": (0, 0, 1), "green": (0, 1, 0)}

    def encode_text(self, tokens):
        return tokens.float()

    def encode_image(self, images):
        rgb = images.mean((2, 3))  # [B, 3]
        out = torch.zeros(images.shape[0], len(COLORS))
        for name, proto in self.PROTO.items():
            out[:, COLORS.index(name)] = rgb @ torch.tensor(proto, dtype=torch.float32)
        return out


def fake_tokenizer(texts):
    # one-hot over the 10 colours of the colour word in each prompt (templates put it 5th)
    out = torch.zeros(len(texts), len(COLORS))
    for i, t in enumerate(texts):
        word = t.split()[4].replace("-colored", "")
        out[i, COLORS.index(word)] = 1.0
    return out


def make_classifier():
    transform = lambda im: torch.from_numpy(np.asarray(im, np.float32) / 255).permute(2, 0, 1)  # noqa: E731
    return gc.ColorClassifier.from_model(FakeCLIP(), transform, fake_tokenizer, "cpu", amp=False, batch_size=2)


def test_text_classifier_averages_normalised_templates():
    clf = make_classifier()
    w = clf.text_classifier("car")
    assert w.shape == (len(COLORS), len(COLORS))
    torch.testing.assert_close(w, torch.eye(len(COLORS)))  # unit columns, one per colour
    assert "car" in clf._classifiers


def test_classify_and_annotate_with_fake_clip():
    arr, _ = synthetic()
    left = np.zeros((20, 30), bool)
    left[:, :15] = True
    right = ~left
    clf = make_classifier()
    dets = [
        {"class": "car", "box": [0, 0, 15, 20], "score": 0.9, "mask": left},
        {"class": "car", "box": [15, 0, 30, 20], "score": 0.8, "mask": right},
        {"class": "cup", "box": [15, 0, 30, 20], "score": 0.8, "mask": right},
        {"class": "car", "box": [0, 0, 30, 20], "score": 0.1, "mask": left},
    ]
    clf.annotate(arr, dets, [0, 1, 2])
    assert [d.get("color") for d in dets] == ["red", "blue", "blue", None]
    assert clf.classified == 3
    assert clf.classify(arr, [], "car") == []
