"""Detector backends: mmdet-style post-processing helpers, class mapping, registry, tiny HF model."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from evaluators import detectors as dt
from evaluators.errors import EvaluatorError, MissingWeights

OFFICIAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "geneval" / "evaluation_metadata.jsonl"


def test_mask_to_box_matches_mmdet_mask2bbox():
    masks = torch.zeros(3, 6, 8, dtype=torch.bool)
    masks[0, 1:4, 2:7] = True  # rows 1..3, cols 2..6
    masks[1, 5, 0] = True
    boxes = dt.mask_to_box(masks)
    # [x_min, y_min, x_max + 1, y_max + 1]; an empty mask gives zeros
    assert boxes.tolist() == [[2, 1, 7, 4], [0, 5, 1, 6], [0, 0, 0, 0]]
    assert boxes.dtype == torch.float32 and dt.mask_to_box(masks[:0]).shape == (0, 4)


def test_instance_postprocess_scores_are_class_prob_times_mask_score():
    # 2 queries, 2 classes + no-object
    cls = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.5]])
    mask = torch.full((2, 4, 4), -3.0)
    mask[0, :2, :2] = 2.0  # query 0: 4 pixels, sigmoid(2) each
    mask[1, 1:, 1:] = torch.tensor([[0.5, 1.0, 1.5]] * 3)  # query 1: 9 pixels
    labels, scores, boxes, bins = dt.instance_postprocess(cls, mask, max_per_image=3)
    probs = torch.softmax(cls, -1)[:, :-1]
    ms0 = torch.sigmoid(torch.tensor(2.0)).item()
    ms1 = torch.sigmoid(torch.tensor([0.5, 1.0, 1.5])).mean().item()
    got = {(int(lab), tuple(b)): float(s) for lab, s, b in zip(labels, scores, boxes.tolist())}
    # top-3 of the four (query, class) pairs by class prob: (0,0), (1,1), (1,0)
    expected = {
        (0, (0.0, 0.0, 2.0, 2.0)): probs[0, 0].item() * ms0,
        (1, (1.0, 1.0, 4.0, 4.0)): probs[1, 1].item() * ms1,
        (0, (1.0, 1.0, 4.0, 4.0)): probs[1, 0].item() * ms1,
    }
    assert got.keys() == expected.keys()
    for key, val in expected.items():
        assert got[key] == pytest.approx(val, rel=1e-5)
    assert bins.dtype == torch.bool and bins.shape == (3, 4, 4)
    # an empty mask scores 0 (eps in the denominator), not NaN
    _, s, b, _ = dt.instance_postprocess(cls[:1], torch.full((1, 4, 4), -1.0), max_per_image=1)
    assert s.item() == 0.0 and b.tolist() == [[0, 0, 0, 0]]


def test_mmdet_resize_shape():
    assert dt.mmdet_resize_shape(512, 512) == (800, 800)
    assert dt.mmdet_resize_shape(1024, 1024) == (800, 800)
    assert dt.mmdet_resize_shape(480, 640) == (800, 1067)  # short edge binds
    assert dt.mmdet_resize_shape(256, 1024) == (333, 1333)  # long edge binds


def test_geneval_class_names_mapping():
    coco = list(dt.GENEVAL_CLASSES)
    coco[64], coco[65], coco[66] = "mouse", "remote", "keyboard"  # mmdet / HF spellings
    assert dt.geneval_class_names(coco) == list(dt.GENEVAL_CLASSES)
    with pytest.raises(EvaluatorError, match="80 COCO"):
        dt.geneval_class_names(coco + ["wall"] * 53)
    swapped = coco[:]
    swapped[0], swapped[1] = swapped[1], swapped[0]
    with pytest.raises(EvaluatorError, match="label 0 is 'bicycle'"):
        dt.geneval_class_names(swapped)


def test_geneval_classes_match_official_prompts():
    if not OFFICIAL.is_file():
        pytest.skip("official metadata absent")
    from evaluators.geneval import read_geneval_metadata

    singles = [m["include"][0]["class"] for m in read_geneval_metadata(OFFICIAL) if m["tag"] == "single_object"]
    assert sorted(singles) == sorted(dt.GENEVAL_CLASSES)


def test_as_rgb_arrays_inputs():
    from PIL import Image

    arr = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    t = torch.from_numpy(arr).permute(2, 0, 1)
    for imgs in (t[None], [Image.fromarray(arr)], [t], [arr]):
        (out,) = dt.as_rgb_arrays(imgs)
        assert np.array_equal(out, arr)
    with pytest.raises(ValueError, match="uint8"):
        dt.as_rgb_arrays(t[None].float())


def test_registry(monkeypatch):
    monkeypatch.setattr(dt, "_REGISTRY", dict(dt._REGISTRY))
    assert {"mask2former-hf", "mmdet", "shapes-exact"} <= set(dt.available_detectors())

    @dt.register_detector("fake")
    class Fake:
        name, official = "fake", True

        def detect(self, images, class_names=None):
            return [[] for _ in images]

    det = dt.get_detector("fake")
    assert isinstance(det, dt.DetectorBackend) and dt.is_official(det)
    with pytest.raises(EvaluatorError, match="unknown detector 'nope'"):
        dt.get_detector("nope")
    with pytest.raises(ValueError, match="already registered"):
        dt.register_detector("fake")(lambda: None)


def test_mmdet_missing_is_one_line(monkeypatch):
    if importlib.util.find_spec("mmdet") is not None:
        pytest.skip("mmdet installed")
    with pytest.raises(EvaluatorError) as e:
        dt.get_detector("mmdet", config="c.py", checkpoint="w.pth")
    assert "\n" not in str(e.value) and "fpd-harness[mmdet]" in str(e.value)


def test_mmdet_result_conversion_2x_and_3x():
    be = dt.MMDetBackend.__new__(dt.MMDetBackend)
    be.class_names = list(dt.GENEVAL_CLASSES)
    bbox = [np.zeros((0, 5), np.float32) for _ in range(80)]
    segm = [[] for _ in range(80)]
    bbox[15] = np.array([[1, 2, 3, 4, 0.9], [5, 6, 7, 8, 0.2]], np.float32)
    segm[15] = [np.ones((4, 4), bool), np.zeros((4, 4), bool)]
    dets = be._convert((bbox, segm), None)
    assert [(d["class"], d["score"]) for d in dets] == [("cat", pytest.approx(0.9)), ("cat", pytest.approx(0.2))]
    assert dets[0]["box"] == [1, 2, 3, 4] and dets[0]["mask"].all()
    assert be._convert((bbox, segm), {"dog"}) == []

    class Inst:
        labels = torch.tensor([16])
        scores = torch.tensor([0.7])
        bboxes = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
        masks = torch.ones(1, 4, 4, dtype=torch.bool)

    class Sample:
        pred_instances = Inst()

    (d,) = be._convert(Sample(), None)
    assert d["class"] == "dog" and d["box"] == [0, 0, 2, 2] and d["mask"].shape == (4, 4)


def test_mask2former_missing_weights(monkeypatch, tmp_path):
    monkeypatch.delenv("FPD_MASK2FORMER_DIR", raising=False)
    with pytest.raises(MissingWeights, match="mask2former-swin-small-coco-instance") as e:
        dt.get_detector("mask2former-hf")
    assert "\n" not in str(e.value)
    with pytest.raises(MissingWeights):
        dt.Mask2FormerBackend(tmp_path)  # a dir without config.json


@pytest.fixture(scope="module")
def tiny_m2f_dir(tmp_path_factory):
    """A randomly initialised, tiny Mask2Former in the HF checkpoint layout (80 COCO labels)."""
    from harness.networks.fixtures import save_hf_mask2former

    return save_hf_mask2former(tmp_path_factory.mktemp("m2f") / "m2f", biased=False)


def test_mask2former_backend_tiny_random_model(tiny_m2f_dir):
    be = dt.get_detector("mask2former-hf", model_dir=tiny_m2f_dir, scale=(80, 64))
    assert not dt.is_official(be) and be.class_names[64] == "computer mouse"
    torch.testing.assert_close(be.mean.flatten(), torch.tensor(dt.MMDET_MEAN), rtol=1e-4, atol=1e-3)
    imgs = torch.randint(0, 256, (2, 3, 50, 70), dtype=torch.uint8)
    out = be.detect(imgs)
    assert len(out) == 2 and len(out[0]) == 100  # top-100 of 10 queries x 80 classes
    for d in out[0]:
        assert d["mask"].shape == (50, 70) and d["mask"].dtype == bool  # original resolution
        assert 0.0 <= d["score"] <= 1.0 and d["class"] in dt.GENEVAL_CLASSES
        ys, xs = np.nonzero(d["mask"])
        if len(xs):
            assert d["box"] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    only = be.detect([imgs[0]], class_names=["cat", "dog"])[0]
    assert {d["class"] for d in only} <= {"cat", "dog"}

    def key(d):
        return d["class"], round(d["score"], 6), tuple(d["box"])

    assert sorted(map(key, only)) == sorted(key(d) for d in out[0] if d["class"] in ("cat", "dog"))
    with pytest.raises(ValueError, match="cannot detect"):
        be.detect([imgs[0]], class_names=["circle"])
    # preprocessing: keep-ratio resize to the scale, zero padding to a multiple of 32
    x, (nh, nw) = be.preprocess(imgs[0].permute(1, 2, 0).numpy())
    assert (nh, nw) == (57, 80) and x.shape == (1, 3, 64, 96) and (x[..., 57:, :] == 0).all()
