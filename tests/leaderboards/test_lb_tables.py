import pytest

from harness.tables import ABLATION_VARIANTS, parse_variant, render_all, render_table
from leaderboards.store import LeaderboardError, append_row

PAPER_T2 = ["6.60", "6.66", "10.73", "91.35", "8.97", "90.40", "6.79", "6.57", "7.58", "7.86", "11.68", "6.91", "6.90"]


def test_table2_latex_has_paper_numbers_and_bold_best():
    tex = render_table(2, "latex")
    for v in PAPER_T2 + ["224", "240", "0.88"]:
        assert v in tex
    assert r"\textbf{6.57}" in tex  # best FID (lower is better)
    assert r"\textbf{240}" in tex  # best IS
    assert r"\begin{tabular}" in tex and r"\multicolumn{8}{l}{\textit{Discrete Distillation}}" in tex
    assert "ReDi$^{1}$" in tex


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_all_tables_render_in_markdown_from_shipped_data(n):
    md = render_table(n, "markdown")
    assert md.startswith(f"**Table {n}.**")
    assert ("| paper" in md) if n in (1, 2) else ("Overall ↑" in md)
    assert "**" in md.split("\n", 1)[1]  # some best value is bold


def test_table1_layout_and_best():
    md = render_table(1, "markdown")
    assert md.index("*Foundation Models*") < md.index("*Continuous Distillation*") < md.index("*Discrete Distillation*")
    assert "MaskGen-FPD (Ours)" in md and "**0.74**" in md  # SDXL's Two
    tex = render_table(1, "latex")
    assert r"\#Model Params" in tex and r"\multicolumn{7}{c}{GenEval $\uparrow$}" in tex


def test_ablation_tables_match_paper():
    t3 = render_table(3, "markdown")
    assert "(a) Gradient Routing" in t3 and "(b) Refinement Source" in t3
    assert "**0.45**" in t3 and "0.22" in t3
    t4 = render_table(4, "latex")
    assert r"\{0.02, 0.05, 0.2\}" in t4 and r"\textbf{0.43}" in t4 and "0.21" in t4 and "0.34" in t4


def test_render_all_has_four_tables():
    md = render_all("markdown")
    assert all(f"**Table {n}.**" in md for n in (1, 2, 3, 4))


def test_measured_rows_beside_paper_rows(shipped_root, measured):
    append_row(
        "shapes-fid",
        measured(
            method="teacher",
            steps=8,
            label="Shapes teacher",
            metrics={"fid": [30.0, 31.0, 29.0], "is": [5.1, 5.2, 5.0]},
        ),
    )
    append_row("shapes-fid", measured(method="fpd", label="Shapes FPD", metrics={"fid": [25.0, 26.0, 24.0]}))
    md = render_table(2, "markdown")
    assert "Shapes FPD" in md and "measured (shapes)" in md and "6.90" in md
    assert md.index("FPD (Ours)") < md.index("Measured, shapes world (shapes-fid@1)") < md.index("Shapes FPD")
    assert "**25.00** ± 2.48" in md  # best within the shapes suite, with its t-interval
    assert "**6.57**" in md  # paper best unaffected by the shapes rows
    assert "Shapes FPD" in render_table(2, "latex", suite="shapes-fid")
    assert "Shapes FPD" not in render_table(2, "markdown", suite="imagenet256")


def test_measured_ablation_rows_match_cells_by_variant(shipped_root, measured):
    for v, x in [
        ("ste", [0.5, 0.52]),
        ("soft+gan", [0.4, 0.41]),
        ("pool=global", [0.3, 0.3]),
        ("odd=1", [0.1]),
        ("soft", [0.45]),
        ("draft=random", [0.7, 0.71]),
    ]:
        append_row("shapes-geneval", measured(suite="shapes-geneval", variant=v, ablation=True, metrics={"overall": x}))
    t3 = render_table(3, "markdown", suite="shapes-geneval")
    assert "(measured, shapes-geneval)" in t3
    rows = [ln for ln in t3.splitlines() if ln.startswith("| ")]
    lines = {ln.split("|")[1].strip() + "/" + ln.split("|")[2].strip(): ln for ln in rows}
    assert "0.41 ± 0.06" in lines["Soft Emb./✓"] and "**0.51** ± 0.13" in lines["STE/"]
    assert "0.51 ± 0.13" in next(ln for ln in t3.splitlines() if ln.startswith("| Student"))
    # the paper's ordering against its reference cell (STE, student drafts, ...): paper soft 0.38 < STE 0.43
    assert "reference" in lines["STE/"] and "holds (1 seed)" in lines["Soft Emb./"]
    assert "within noise" in lines["Soft Emb./✓"]  # gap 0.105 inside the intervals
    assert "reversed" in next(ln for ln in t3.splitlines() if ln.startswith("| Random"))  # paper 0.22 < 0.43
    t4 = render_table(4, "markdown")
    assert "0.30 ± 0.00" in t4 and "outside the Tables 3-4 layout" in t4 and "odd=1" in t4


def test_parse_variant():
    assert parse_variant("") is None
    assert parse_variant("ste") == parse_variant("draft=student") == parse_variant("blocks={11,8,5,2}")
    assert parse_variant("bw={0.05}")["bw"] == (0.05,)
    assert parse_variant("soft+gan") != parse_variant("soft")
    assert len(ABLATION_VARIANTS) == 10 and "ste" in ABLATION_VARIANTS and "draft=student" not in ABLATION_VARIANTS


def test_errors_are_one_line():
    with pytest.raises(LeaderboardError, match="unknown table 5"):
        render_table(5, "markdown")
    with pytest.raises(LeaderboardError, match="table 2 shows FID suites"):
        render_table(2, "markdown", suite="shapes-geneval")
    with pytest.raises(LeaderboardError, match="did you mean 'shapes-geneval'"):
        render_table(1, "markdown", suite="shapes-geneva")
    with pytest.raises(LeaderboardError, match="unknown format"):
        render_table(1, "html")  # type: ignore[arg-type]
