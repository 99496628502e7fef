"""GenEval rules on hand-built detections, metadata validation, results and summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluators import geneval as g
from evaluators.geneval import (
    objects_needing_color,
    read_geneval_metadata,
    relative_position,
    score_geneval,
    summarize_geneval,
)

OFFICIAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "geneval" / "evaluation_metadata.jsonl"


def det(cls, box, score=0.95, color=None):
    d = {"class": cls, "box": list(box), "score": score}
    if color is not None:
        d["color"] = color
    return d


def meta(tag, include, exclude=None, prompt="p"):
    m = {"tag": tag, "include": include, "prompt": prompt}
    if exclude is not None:
        m["exclude"] = exclude
    return m


# ------------------------------------------------------------------ single / two objects


def test_single_object_threshold_is_strict_greater_than_0_3():
    m = meta("single_object", [{"class": "cow", "count": 1}])
    assert score_geneval(m, [det("cow", (0, 0, 10, 10), 0.31)]) == (True, "")
    ok, reason = score_geneval(m, [det("cow", (0, 0, 10, 10), 0.3)])
    assert not ok and reason == "expected cow>=1, found 0"
    assert score_geneval(m, [det("horse", (0, 0, 10, 10))]) == (False, "expected cow>=1, found 0")


def test_two_object_includes_are_anded():
    m = meta("two_object", [{"class": "cow", "count": 1}, {"class": "bench", "count": 1}])
    assert score_geneval(m, [det("cow", (0, 0, 5, 5)), det("bench", (9, 9, 20, 20))])[0]
    ok, reason = score_geneval(m, [det("cow", (0, 0, 5, 5))])
    assert not ok and reason == "expected bench>=1, found 0"
    ok, reason = score_geneval(m, [])
    assert reason == "expected cow>=1, found 0\nexpected bench>=1, found 0"


# ------------------------------------------------------------------ counting


def counting_meta(n=2):
    return meta("counting", [{"class": "clock", "count": n}], [{"class": "clock", "count": n + 1}])


def test_counting_exactly_n_with_exclude_clause():
    boxes = [(i * 20, 0, i * 20 + 10, 10) for i in range(4)]
    assert score_geneval(counting_meta(2), [det("clock", b) for b in boxes[:2]]) == (True, "")
    ok, reason = score_geneval(counting_meta(2), [det("clock", b) for b in boxes[:3]])
    assert not ok and reason == "expected clock<3, found 3"
    ok, reason = score_geneval(counting_meta(2), [det("clock", boxes[0])])
    assert not ok and reason == "expected clock>=2, found 1"


def test_counting_uses_0_9_threshold_for_all_classes_of_the_image():
    # a 0.5-score clock does not count in a counting image, but would in any other tag
    dets = [det("clock", (0, 0, 10, 10), 0.95), det("clock", (20, 0, 30, 10), 0.95), det("clock", (40, 0, 50, 10), 0.5)]
    assert score_geneval(counting_meta(2), dets)[0]
    dets[2]["score"] = 0.91
    assert not score_geneval(counting_meta(2), dets)[0]
    # 0.9 exactly is not > 0.9
    m = meta("counting", [{"class": "cat", "count": 1}], [{"class": "dog", "count": 1}])
    assert score_geneval(m, [det("cat", (0, 0, 5, 5), 0.95), det("dog", (9, 9, 15, 15), 0.9)])[0]
    assert not score_geneval(m, [det("cat", (0, 0, 5, 5), 0.9)])[0]
    # the same detections under another tag use 0.3
    m2 = meta("two_object", [{"class": "cat", "count": 1}, {"class": "dog", "count": 1}])
    assert score_geneval(m2, [det("cat", (0, 0, 5, 5), 0.9), det("dog", (9, 9, 15, 15), 0.4)])[0]


def test_at_most_16_objects_per_class():
    dets = [det("apple", (i, 0, i + 1, 1), 0.5 + i * 0.01) for i in range(20)]
    objects = g.filter_detections(dets, "single_object")
    assert len(objects["apple"]) == 16
    assert [d["score"] for d in objects["apple"]] == sorted((0.5 + i * 0.01 for i in range(4, 20)), reverse=True)
    # the exclude clause sees the capped count
    m = meta("two_object", [{"class": "cat", "count": 1}], [{"class": "apple", "count": 17}])
    assert score_geneval(m, dets + [det("cat", (50, 50, 60, 60))])[0]
    assert not score_geneval(m, dets + [det("cat", (50, 50, 60, 60))], max_objects=20)[0]


def test_nms_only_when_max_overlap_below_one():
    dets = [det("cat", (0, 0, 10, 10), 0.9), det("cat", (1, 1, 10, 10), 0.8), det("cat", (50, 50, 60, 60), 0.7)]
    assert len(g.filter_detections(dets, "single_object")["cat"]) == 3
    kept = g.filter_detections(dets, "single_object", max_overlap=0.5)["cat"]
    assert [d["score"] for d in kept] == [0.9, 0.7]
    assert g.compute_iou((0, 0, 9, 9), (0, 0, 9, 9)) == 1.0
    assert g.compute_iou((0, 0, 9, 9), (10, 10, 19, 19)) == 0.0


# ------------------------------------------------------------------ colours


def test_colors_judged_on_top_count_objects():
    m = meta("colors", [{"class": "car", "count": 1, "color": "red"}])
    assert score_geneval(m, [det("car", (0, 0, 9, 9), 0.9, "red"), det("car", (20, 0, 29, 9), 0.5, "blue")])[0]
    ok, reason = score_geneval(m, [det("car", (0, 0, 9, 9), 0.5, "red"), det("car", (20, 0, 29, 9), 0.9, "blue")])
    assert not ok and reason == "expected red car>=1, found 0 red; and 1 blue"


def test_color_attr_mismatch_reason_lists_colours_in_official_order():
    m = meta(
        "color_attr", [{"class": "cup", "count": 2, "color": "white"}, {"class": "dog", "count": 1, "color": "brown"}]
    )
    dets = [
        det("cup", (0, 0, 5, 5), 0.9, "white"),
        det("cup", (9, 0, 14, 5), 0.8, "blue"),
        det("dog", (30, 30, 50, 50), 0.9, "brown"),
    ]
    ok, reason = score_geneval(m, dets)
    assert not ok and reason == "expected white cup>=2, found 1 white; and 1 blue, 1 white"
    dets[1]["color"] = "white"
    assert score_geneval(m, dets) == (True, "")


def test_missing_color_is_an_error_and_needing_color_indices():
    m = meta("colors", [{"class": "car", "count": 1, "color": "red"}])
    dets = [
        det("car", (0, 0, 9, 9), 0.2),
        det("car", (0, 0, 9, 9), 0.9),
        det("car", (5, 5, 9, 9), 0.8),
        det("bus", (0, 0, 9, 9), 0.9),
    ]
    assert objects_needing_color(m, dets) == [1]
    with pytest.raises(ValueError, match="objects_needing_color"):
        score_geneval(m, dets)
    assert objects_needing_color(meta("single_object", [{"class": "car", "count": 1}]), dets) == []


# ------------------------------------------------------------------ position


def position_meta(rel):
    # "a photo of a dog <rel> a teddy bear": B = teddy bear (group 0), A = dog
    return meta("position", [{"class": "teddy bear", "count": 1}, {"class": "dog", "count": 1, "position": [rel, 0]}])


def test_position_four_directions():
    bear = det("teddy bear", (100, 100, 120, 120))
    cases = {
        "left of": (40, 100, 60, 120),
        "right of": (160, 100, 180, 120),
        "above": (100, 40, 120, 60),
        "below": (100, 160, 120, 180),
    }
    for rel, box in cases.items():
        assert score_geneval(position_meta(rel), [bear, det("dog", box)]) == (True, ""), rel
        for other in set(cases) - {rel}:
            ok, reason = score_geneval(position_meta(other), [bear, det("dog", box)])
            assert not ok and reason == f"expected dog {other} target, found {rel} target"


def test_position_diagonal_satisfies_two_relations():
    a, b = (150, 150, 170, 170), (100, 100, 120, 120)
    assert relative_position(a, b) == {"right of", "below"}
    bear = det("teddy bear", b)
    assert score_geneval(position_meta("right of"), [bear, det("dog", a)])[0]
    assert score_geneval(position_meta("below"), [bear, det("dog", a)])[0]
    assert not score_geneval(position_meta("above"), [bear, det("dog", a)])[0]
    # mostly horizontal offset: only "right of" (dy component < 0.5 after normalisation)
    assert relative_position((200, 105, 220, 125), b) == {"right of"}


def test_position_overlapping_boxes_have_no_relation():
    b = (100, 100, 140, 140)
    # centres 6 px apart, margin 0.1*(40+40)=8 px > offset -> revised offset 0 -> too close
    a = (106, 100, 146, 140)
    assert relative_position(a, b) == set()
    ok, reason = score_geneval(position_meta("right of"), [det("teddy bear", b), det("dog", a)])
    assert not ok and reason == "expected dog right of target, found  target"
    # same centre: no division by zero
    assert relative_position(b, b) == set()
    # past the margin the direction test needs revised/|offset| > 0.5: (15-8)/15 < 0.5, (17-8)/17 > 0.5
    assert relative_position((115, 100, 155, 140), b) == set()
    assert relative_position((117, 100, 157, 140), b) == {"right of"}
    assert relative_position((117, 100, 157, 140), b, margin=0.2) == set()


def test_position_needs_matched_target_and_is_judged_on_top_objects():
    m = position_meta("left of")
    ok, reason = score_geneval(m, [det("dog", (0, 0, 10, 10))])
    assert not ok and reason == "expected teddy bear>=1, found 0\nno target for dog to be left of"
    # the higher-scoring dog is right of the bear -> wrong, even though another dog is left of it
    bear = det("teddy bear", (100, 100, 120, 120))
    dets = [bear, det("dog", (160, 100, 180, 120), 0.9), det("dog", (40, 100, 60, 120), 0.8)]
    assert not score_geneval(m, dets)[0]
    dets[1]["score"] = 0.7
    assert score_geneval(m, dets)[0]


def test_bad_detection_input():
    m = meta("single_object", [{"class": "cow", "count": 1}])
    with pytest.raises(ValueError, match="'class', 'box'"):
        score_geneval(m, [{"class": "cow", "score": 0.9}])
    with pytest.raises(ValueError, match=r"\[x1, y1, x2, y2\]"):
        score_geneval(m, [det("cow", (0, 0, 1))])


# ------------------------------------------------------------------ metadata


def test_official_metadata_file_parses():
    if not OFFICIAL.is_file():
        pytest.skip(f"official metadata not present at {OFFICIAL}")
    rows = read_geneval_metadata(OFFICIAL)
    counts = {}
    for r in rows:
        counts[r["tag"]] = counts.get(r["tag"], 0) + 1
    assert counts == {
        "single_object": 80,
        "two_object": 99,
        "counting": 80,
        "colors": 94,
        "position": 100,
        "color_attr": 100,
    }
    assert len(rows) == 553 and list(counts) == list(g.TAGS)


@pytest.mark.parametrize(
    "line, problem",
    [
        ('{"tag": "single_object", "include": [{"class": "cow", "count": 1}]', "malformed JSON"),
        ('{"tag": "single_object", "include": [{"class": "cow", "count": 1}]}', "missing key 'prompt'"),
        ('{"tag": "bogus", "include": [{"class": "cow", "count": 1}], "prompt": "x"}', "unknown tag 'bogus'"),
        (
            '{"tag": "colors", "include": [{"class": "cow", "count": 1, "color": "teal"}], "prompt": "x"}',
            "unknown color",
        ),
        ('{"tag": "counting", "include": [{"class": "cow", "count": 0}], "prompt": "x"}', "count"),
        (
            '{"tag": "position", "include": [{"class": "a", "count": 1, "position": ["left of", 0]}], "prompt": "x"}',
            "earlier include",
        ),
        (
            '{"tag": "position", "include": [{"class": "a", "count": 1}, {"class": "b", "count": 1, '
            '"position": ["near", 0]}], "prompt": "x"}',
            "unknown relation",
        ),
        ("[1, 2]", "JSON object"),
    ],
)
def test_metadata_validation_names_line_and_problem(tmp_path, line, problem):
    good = '{"tag": "single_object", "include": [{"class": "cow", "count": 1}], "prompt": "a photo of a cow"}'
    p = tmp_path / "m.jsonl"
    p.write_text(good + "\n" + line + "\n")
    with pytest.raises(ValueError) as e:
        read_geneval_metadata(p)
    msg = str(e.value)
    assert f"{p}:2:" in msg and problem in msg and "\n" not in msg


def test_metadata_blank_lines(tmp_path):
    good = '{"tag": "single_object", "include": [{"class": "cow", "count": 1}], "prompt": "a photo of a cow"}'
    p = tmp_path / "m.jsonl"
    p.write_text(good + "\n" + good + "\n\n\n")
    assert len(read_geneval_metadata(p)) == 2
    p.write_text(good + "\n\n" + good + "\n")
    with pytest.raises(ValueError, match=":2: blank line"):
        read_geneval_metadata(p)


# ------------------------------------------------------------------ results, summary, folders


def test_rows_jsonl_roundtrip_and_summary(tmp_path):
    m_ok = meta("single_object", [{"class": "cow", "count": 1}], prompt="a photo of a cow")
    m_cnt = counting_meta(2)
    rows = []
    for i in range(4):  # cow prompt: 3 of 4 images correct
        dets = [det("cow", (0, 0, 9, 9), 0.8)] if i < 3 else []
        rows.append(g.geneval_row(f"00000/samples/{i:04}.png", m_ok, dets))
    for i in range(4):  # counting prompt: all wrong
        rows.append(g.geneval_row(f"00001/samples/{i:04}.png", m_cnt, [det("clock", (0, 0, 9, 9))]))
    assert set(rows[0]) == {"filename", "tag", "prompt", "correct", "reason", "metadata", "details"}
    assert json.loads(rows[0]["details"]) == {"cow": [[0.0, 0.0, 9.0, 9.0, 0.8]]}
    assert json.loads(rows[0]["metadata"]) == m_ok
    path = g.write_geneval_results(tmp_path / "out" / "results.jsonl", rows)
    back = g.read_geneval_results(path)
    assert back == rows
    s = summarize_geneval(back)
    assert s["tags"] == {"single_object": 0.75, "counting": 0.0}
    assert s["overall"] == pytest.approx(0.375)
    assert s["frac_correct_images"] == pytest.approx(3 / 8)
    assert s["frac_correct_prompts"] == pytest.approx(0.5)
    assert s["prompts"] == 2 and s["images"] == 8 and s["tag_counts"]["single_object"] == [3, 4]
    assert not s["all_tags_present"]


def test_overall_is_unweighted_mean_of_tags():
    rows = [{"tag": "single_object", "correct": True, "metadata": "a"}] * 9
    rows += [{"tag": "position", "correct": False, "metadata": "b"}]
    s = summarize_geneval(rows)
    assert s["overall"] == 0.5 and s["frac_correct_images"] == 0.9
    with pytest.raises(ValueError, match="no GenEval result rows"):
        summarize_geneval([])


def test_folder_layout_roundtrip(tmp_path):
    m = meta("single_object", [{"class": "cow", "count": 1}], prompt="a photo of a cow")
    d = g.write_prompt_folder(tmp_path, 7, m)
    assert d == tmp_path / "00007" and json.load(open(d / "metadata.jsonl")) == m
    for s in range(4):
        p = g.sample_path(tmp_path, 7, s)
        assert p.name == f"{s:04}.png"
        p.write_bytes(b"png")
    (d / "samples" / "grid.png").write_bytes(b"x")  # ignored, as in the official reader
    (tmp_path / "notes").mkdir()  # non-digit folders are ignored
    (folder,) = list(g.iter_geneval_folder(tmp_path))
    assert (
        folder.index == 7
        and folder.metadata == m
        and [p.name for p in folder.samples] == ["0000.png", "0001.png", "0002.png", "0003.png"]
    )
    g.sample_path(tmp_path, 7, 3).unlink()
    with pytest.raises(ValueError, match="3 images, expected 4"):
        list(g.iter_geneval_folder(tmp_path))
    assert len(next(g.iter_geneval_folder(tmp_path, expected_samples=None)).samples) == 3


def test_evaluate_folder_with_stub_detector_and_colors(tmp_path):
    from PIL import Image

    metas = [
        meta("colors", [{"class": "car", "count": 1, "color": "red"}], prompt="a photo of a red car"),
        meta("single_object", [{"class": "cow", "count": 1}], prompt="a photo of a cow"),
    ]
    for i, m in enumerate(metas):
        g.write_prompt_folder(tmp_path, i, m)
        for s in range(2):
            Image.new("RGB", (16, 16), (200, 0, 0) if s == 0 else (0, 0, 200)).save(g.sample_path(tmp_path, i, s))

    class StubDetector:
        name = "stub"

        def __init__(self):
            self.asked = []

        def detect(self, images, class_names=None):
            self.asked.append(class_names)
            return [[det("car", (0, 0, 8, 8), 0.9), det("cow", (0, 0, 8, 8), 0.2)] for _ in images]

    class StubColors:
        def annotate(self, image, dets, idx):
            for i in idx:
                dets[i]["color"] = "red" if image.getpixel((0, 0))[0] > 100 else "blue"

    detector = StubDetector()
    rows = g.evaluate_geneval_folder(tmp_path, detector, StubColors(), expected_samples=2)
    assert [r["correct"] for r in rows] == [True, False, False, False]
    assert detector.asked == [["car"], ["car"], ["cow"], ["cow"]]
    with pytest.raises(ValueError, match="pass a color_classifier"):
        g.evaluate_geneval_folder(tmp_path, StubDetector(), None, expected_samples=2)
