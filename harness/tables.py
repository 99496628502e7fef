"""Render the paper's Tables 1-4 from the leaderboards, paper rows and measured rows side by side.

Tables 1 and 2 list methods: paper rows in the paper's groups, then one group per measured suite,
with a Source column ("paper", "measured", "measured (shapes)"). Tables 3 and 4 are ablation grids:
each cell is an FPD configuration, the paper's value in "Overall" and each measured suite's value
in its own column beside it. The best value per column is bold, computed only among rows of the
same suite (a shapes-world FID is never compared with an ImageNet FID); FID and Steps: lower wins.

Measured ablation rows reach a cell through their `variant`, parsed by `parse_variant`: '+'-joined
tokens over the ablation base (STE, no GAN, student draft, feature space, bandwidths
{0.02,0.05,0.2}, blocks {2,5,8,11}, 4x4 grid). `ABLATION_VARIANTS` lists one variant per cell.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from harness.registry import SUITES
from leaderboards.store import LeaderboardError, check_suite, latest, read_rows

Fmt = Literal["markdown", "latex"]
PAPER_SUITE = {1: "geneval", 2: "imagenet256", 3: "geneval", 4: "geneval"}
# each table's suites: the paper's first, then the shapes analogue
TABLE_SUITES = {
    n: tuple(sorted((s.name for s in SUITES.values() if n in s.tables), key=lambda name: name.startswith("shapes")))
    for n in PAPER_SUITE
}
CAPTIONS = {
    1: "Comparison of text-to-image generation models on the GenEval benchmark. "
    "#Model Params is the inference parameter count.",
    2: "Quantitative results on class-conditional ImageNet-256 with MaskGit teacher.",
    3: "Ablations on gradient routing and teacher refinement, evaluated on GenEval.",
    4: "Feature space ablations on GenEval.",
}
PAPER_CITE = "FPD (arXiv:2605.21484)"

# ---------------------------------------------------------------- ablation variants

ABLATION_BASE: dict = {
    "est": "ste",
    "gan": False,
    "draft": "student",
    "space": "feature",
    "bw": (0.02, 0.05, 0.2),
    "blocks": (2, 5, 8, 11),
    "pool": "grid",
}


def _set(text: str, cast) -> tuple:
    inner = text.strip().removeprefix("{").removesuffix("}")
    return tuple(sorted(cast(x) for x in inner.split(",") if x.strip()))


def parse_variant(variant: str) -> dict | None:
    """Ablation config of a variant string; None for the main configuration ('')."""
    if not variant:
        return None
    cfg = dict(ABLATION_BASE)
    for tok in (t.strip() for t in variant.split("+")):
        if tok in ("soft", "ste"):
            cfg["est"] = tok
        elif tok == "gan":
            cfg["gan"] = True
        elif "=" in tok:
            key, val = (s.strip() for s in tok.split("=", 1))
            try:
                cfg[key] = (
                    _set(val, float)
                    if key == "bw"
                    else _set(val, int)
                    if key == "blocks"
                    else val.lower() in ("1", "true", "yes")
                    if key == "gan"
                    else val
                )
            except ValueError:
                cfg[key] = val  # unparsable set: keep as text, so it matches no cell
        else:
            cfg[tok] = True  # unknown flag: matches no cell
    return cfg


# (sub-table, display cells, paper variant) — one entry per row of Tables 3a/3b/4a/4b.
ABLATION_LAYOUT: dict[str, tuple[str, list[str], list[tuple[list[str], str]]]] = {
    "3a": (
        "Gradient Routing and Adversarial Loss",
        ["Estimator", "w/ L_gan"],
        [
            (["Soft Emb.", ""], "soft"),
            (["Soft Emb.", "yes"], "soft+gan"),
            (["STE", ""], "ste"),
            (["STE", "yes"], "ste+gan"),
        ],
    ),
    "3b": ("Refinement Source", ["Draft Source"], [(["Random"], "draft=random"), (["Student"], "draft=student")]),
    "4a": (
        "Drift Space and Kernel Bandwidths",
        ["Space", "Bandwidths"],
        [
            (["Pixel", "{0.02, 0.05, 0.2}"], "space=pixel"),
            (["Feature", "{0.05}"], "bw={0.05}"),
            (["Feature", "{0.02, 0.05, 0.2}"], "space=feature"),
        ],
    ),
    "4b": (
        "Backbone Layer Selection",
        ["Blocks", "Patch Grid"],
        [
            (["{2,5,8,11}", ""], "pool=global"),
            (["{2,5}", "yes"], "blocks={2,5}"),
            (["{8,11}", "yes"], "blocks={8,11}"),
            (["{2,5,8,11}", "yes"], "blocks={2,5,8,11}"),
        ],
    ),
}
_HEADER_TEX = {"w/ L_gan": r"w/ $\mathcal{L}_{\text{gan}}$"}
# One variant per distinct configuration, in table order: what a reproduction of Tables 3-4 runs.
ABLATION_VARIANTS: list[str] = []
for _sub in ABLATION_LAYOUT.values():
    for _cells, _v in _sub[2]:
        if all(parse_variant(_v) != parse_variant(w) for w in ABLATION_VARIANTS):
            ABLATION_VARIANTS.append(_v)

# ---------------------------------------------------------------- cell formatting


def _tex_escape(s: str) -> str:
    rep = {
        "\\": r"\textbackslash{}",
        "&": r"\&",
        "%": r"\%",
        "$": r"\$",
        "#": r"\#",
        "_": r"\_",
        "{": r"\{",
        "}": r"\}",
        "~": r"\textasciitilde{}",
        "^": r"\^{}",
    }
    return "".join(rep.get(c, c) for c in s)


def _text(s: str, fmt: Fmt) -> str:
    """Plain text -> cell; '^N' becomes a superscript (ReDi^1), 'yes' a check mark."""
    if s == "yes":
        return r"$\checkmark$" if fmt == "latex" else "✓"
    parts = re.split(r"\^(\d+)", s)
    out = ""
    for i, p in enumerate(parts):
        if i % 2:
            out += f"$^{{{p}}}$" if fmt == "latex" else f"<sup>{p}</sup>"
        else:
            out += _tex_escape(p) if fmt == "latex" else p.replace("|", "\\|")
    return out


def _flag(v: bool | None, fmt: Fmt) -> str:
    if v is None:
        return "-"
    if fmt == "latex":
        return r"$\checkmark$" if v else r"$\times$"
    return "✓" if v else "×"


def _decimals(metric: str, value: float) -> int:
    # The paper prints IS as an integer (224, 13) and everything else with two decimals (6.90, 0.45);
    # a fractional IS below 100 (the shapes world's are ~1-20) would lose its signal at 0 decimals.
    return 0 if metric == "is" and (abs(value) >= 100 or float(value).is_integer()) else 2


@dataclass
class Cell:
    """A table cell; numeric cells carry what is needed to find the best per column and suite."""

    text: str
    value: float | None = None
    suite: str | None = None
    suffix: str = ""


def _num_cell(row: dict, metric: str, fmt: Fmt) -> Cell:
    m = row["metrics"].get(metric)
    if m is None:
        return Cell("-")
    d = _decimals(metric, m["mean"])
    mean = round(m["mean"], d)
    suffix = ""
    if "interval" in m:
        half = (m["interval"][1] - m["interval"][0]) / 2
        suffix = rf"$\pm${half:.{d}f}" if fmt == "latex" else f" ± {half:.{d}f}"
    return Cell(f"{mean:.{d}f}", mean, row["suite"], suffix)


def _steps_cell(row: dict) -> Cell:
    s = row["steps"]
    return Cell("-") if s is None else Cell(str(s), float(s), row["suite"])


def _bold(s: str, fmt: Fmt) -> str:
    return rf"\textbf{{{s}}}" if fmt == "latex" else f"**{s}**"


def _mark_best(rows: list[list[Cell]], better: list[str | None]) -> None:
    """Bold the best value per column among rows of the same suite (ties all bold; needs >= 2 rows)."""
    for j, direction in enumerate(better):
        if direction is None:
            continue
        by_suite: dict[str, list[Cell]] = {}
        for r in rows:
            c = r[j]
            if c.value is not None:
                by_suite.setdefault(c.suite or "", []).append(c)
        for cells in by_suite.values():
            if len(cells) < 2:
                continue
            best = (min if direction == "min" else max)(c.value for c in cells)
            for c in cells:
                if c.value == best:
                    c.text = "\0" + c.text  # marked; bolded when rendered


def _cell_str(c: Cell, fmt: Fmt) -> str:
    if c.text.startswith("\0"):
        return _bold(c.text[1:], fmt) + c.suffix
    return c.text + c.suffix


# ---------------------------------------------------------------- rendering helpers

_GROUP = "\x01GROUP\x01"


def _frame(header: list, body: list[list[Cell] | str], better: list[str | None], fmt: Fmt) -> pd.DataFrame:
    """Body items are rows of cells or a group title (str); returns a DataFrame of strings."""
    _mark_best([b for b in body if not isinstance(b, str)], better)
    data = []
    for b in body:
        if isinstance(b, str):  # LaTeX group rows become \multicolumn lines in _to_text
            data.append([(_GROUP + _tex_escape(b)) if fmt == "latex" else f"*{b}*"] + [""] * (len(header) - 1))
        else:
            data.append([_cell_str(c, fmt) for c in b])
    cols = pd.MultiIndex.from_tuples(header) if isinstance(header[0], tuple) else header
    return pd.DataFrame(data, columns=cols)


def _to_text(df: pd.DataFrame, fmt: Fmt, align: str) -> str:
    """Markdown via tabulate (numbers kept exactly as printed) or a booktabs LaTeX tabular."""
    if fmt == "markdown":
        if isinstance(df.columns, pd.MultiIndex):
            df = df.copy()
            df.columns = [b for _, b in df.columns]
        return df.to_markdown(
            index=False, disable_numparse=True, colalign=[{"l": "left", "c": "center"}.get(a, "right") for a in align]
        )
    tex = df.to_latex(index=False, escape=False, column_format=align, multicolumn=True, multicolumn_format="c")
    out: list[str] = []
    for ln in tex.splitlines():
        if _GROUP in ln:
            title = ln.split(_GROUP, 1)[1].split("&", 1)[0].strip()
            if out and out[-1] != r"\midrule":  # no double rule right under the header
                out.append(r"\midrule")
            out.append(rf"\multicolumn{{{len(align)}}}{{l}}{{\textit{{{title}}}}} \\")
        else:
            out.append(ln)
    return "\n".join(out)


def _suites(n: int, suite: str | None) -> tuple[str, ...]:
    if n not in PAPER_SUITE:
        raise LeaderboardError(f"unknown table {n}; choose 1, 2, 3 or 4")
    if suite is None:
        return TABLE_SUITES[n]
    check_suite(suite)
    if suite not in TABLE_SUITES[n]:
        kind = "GenEval" if n != 2 else "FID"
        raise LeaderboardError(
            f"table {n} shows {kind} suites ({', '.join(TABLE_SUITES[n])}); "
            f"suite '{suite}' belongs to table(s) "
            f"{', '.join(str(k) for k, v in TABLE_SUITES.items() if suite in v)}"
        )
    return (suite,)


def _load(n: int, suite: str | None, root) -> tuple[list[dict], dict[str, list[dict]]]:
    """(paper rows of table n, {suite: measured rows}) — latest row per key."""
    ablation = n in (3, 4)
    paper = [
        r
        for r in latest(read_rows(PAPER_SUITE[n], root))
        if r["source"] == "paper" and r["paper_table"].startswith(f"Table {n}")
    ]
    measured: dict[str, list[dict]] = {}
    for s in _suites(n, suite):
        rows = [r for r in latest(read_rows(s, root)) if r["source"] == "measured" and r["ablation"] == ablation]
        if rows:
            # Teacher sweeps first (most steps first), then baselines, the method itself last.
            rank = {"teacher": 0, "fpd": 2}
            rows.sort(key=lambda r: (rank.get(r["method"], 1), -(r["steps"] or 0)))
            measured[s] = rows
    return paper, measured


def _source(row: dict) -> str:
    if row["source"] == "paper":
        return "paper"
    return "measured (shapes)" if row["suite"].startswith("shapes") else "measured"


def _group_title(suite: str, rows: list[dict]) -> str:
    protos = ", ".join(sorted({r["protocol"] for r in rows}))
    world = "shapes world" if suite.startswith("shapes") else "paper scale"
    return f"Measured, {world} ({protos})"


def _method_label(row: dict, fmt: Fmt) -> str:
    label = _text(row["label"], fmt)
    if row["source"] == "paper":
        m = re.search(r"; \[(\d+)\]", row.get("citation", ""))
        if m:
            label += f" [{m[1]}]"
    return label


def _arrow(up: bool, fmt: Fmt) -> str:
    return (r"$\uparrow$" if up else r"$\downarrow$") if fmt == "latex" else ("↑" if up else "↓")


def _heading(n: int, fmt: Fmt, measured: dict[str, list[dict]]) -> tuple[str, str]:
    """(caption, footnote) text for table n."""
    src = f"Paper rows: {PAPER_CITE}, Table {n}."
    if measured:
        src += (
            " Measured rows: this harness, suite(s) "
            + ", ".join(measured)
            + "; mean ± half-width of the 95% t-interval over seeds where there are ≥ 2."
        )
    src += " Bold: best per column within one suite."
    if fmt == "latex":
        src = src.replace("%", r"\%").replace("±", r"$\pm$").replace("≥", r"$\geq$")
    return CAPTIONS[n], src


def _wrap(n: int, fmt: Fmt, measured, body: str) -> str:
    caption, note = _heading(n, fmt, measured)
    if fmt == "markdown":
        return f"**Table {n}.** {caption}\n\n{body}\n\n_{note}_\n"
    return (
        f"\\begin{{table}}[t]\n\\centering\n\\caption{{{_tex_escape(caption)} {note}}}\n"
        f"\\label{{tab:fpd-{n}}}\n{body}\n\\end{{table}}\n"
    )


# ---------------------------------------------------------------- Tables 1 and 2

_GENEVAL_COLS = [
    ("single_object", "Single"),
    ("two_object", "Two"),
    ("counting", "Count."),
    ("colors", "Colors"),
    ("position", "Pos."),
    ("color_attr", "Color Attr."),
    ("overall", "Overall"),
]
_FID_COLS = [("fid", "FID", False), ("is", "IS", True), ("precision", "Prec.", True), ("recall", "Rec.", True)]
_GROUPS = {
    1: [
        ("foundation", "Foundation Models"),
        ("continuous", "Continuous Distillation"),
        ("discrete", "Discrete Distillation"),
    ],
    2: [("teacher", None), ("discrete", "Discrete Distillation")],
}


def _comparison(n: int, fmt: Fmt, suite: str | None, root) -> str:
    paper, measured = _load(n, suite, root)
    if n == 1:
        params = r"\#Model Params" if fmt == "latex" else "#Model Params"
        if fmt == "latex":  # the paper's two-level header: GenEval spans the score columns
            ge = f"GenEval {_arrow(True, fmt)}"
            scores: list = [(ge, h) for _, h in _GENEVAL_COLS]
            header: list = [
                ("", "Methods"),
                ("", f"Steps {_arrow(False, fmt)}"),
                ("", params),
                ("", "Aux. Score Net"),
                *scores,
                ("", "Source"),
            ]
        else:  # Markdown has one header row: an arrow on each score column instead
            header = (
                ["Methods", f"Steps {_arrow(False, fmt)}", params, "Aux. Score Net"]
                + [f"{h} ↑" for _, h in _GENEVAL_COLS]
                + ["Source"]
            )
        better = [None, "min", None, None] + ["max"] * len(_GENEVAL_COLS) + [None]
        align = "lcll" + "c" * len(_GENEVAL_COLS) + "l"

        def cells(r: dict) -> list[Cell]:
            a = r["attributes"]
            return (
                [
                    Cell(_method_label(r, fmt)),
                    _steps_cell(r),
                    Cell(_text(a.get("params", "-"), fmt)),
                    Cell(_flag(a.get("aux_score_net"), fmt)),
                ]
                + [_num_cell(r, k, fmt) for k, _ in _GENEVAL_COLS]
                + [Cell(_source(r))]
            )
    else:
        header = (
            ["Method", f"Steps {_arrow(False, fmt)}", "Aux. Score Net"]
            + [f"{h} {_arrow(up, fmt)}" for _, h, up in _FID_COLS]
            + ["Source"]
        )
        better = [None, "min", None] + ["max" if up else "min" for *_, up in _FID_COLS] + [None]
        align = "lcl" + "c" * len(_FID_COLS) + "l"

        def cells(r: dict) -> list[Cell]:
            aux = Cell(_flag(r["attributes"].get("aux_score_net"), fmt))
            return (
                [Cell(_method_label(r, fmt)), _steps_cell(r), aux]
                + [_num_cell(r, k, fmt) for k, *_ in _FID_COLS]
                + [Cell(_source(r))]
            )

    body: list = []
    known = {g for g, _ in _GROUPS[n]}
    for g, title in _GROUPS[n] + [(None, "Other")]:  # paper rows in the paper's groups and order
        rows = [
            r for r in paper if (r["attributes"].get("group") == g if g else r["attributes"].get("group") not in known)
        ]
        if rows and title:
            body.append(title)
        body += [cells(r) for r in rows]
    for s, rows in measured.items():
        body.append(_group_title(s, rows))
        body += [cells(r) for r in rows]
    return _wrap(n, fmt, measured, _to_text(_frame(header, body, better, fmt), fmt, align))


# ---------------------------------------------------------------- Tables 3 and 4


def _ablation(n: int, fmt: Fmt, suite: str | None, root) -> str:
    paper, measured = _load(n, suite, root)
    by_table_variant = {(r["paper_table"], r["variant"]): r for r in paper}
    all_cells = [parse_variant(v) for sub in ABLATION_LAYOUT.values() for _, v in sub[2]]
    parts = []
    for key in (f"{n}a", f"{n}b"):
        title, cols, layout = ABLATION_LAYOUT[key]
        up = _arrow(True, fmt)
        header = [_HEADER_TEX.get(c, _tex_escape(c)) if fmt == "latex" else c for c in cols] + [f"Overall {up}"]
        header += [h for s in measured for h in (f"Overall {up} (measured, {s})", f"paper's ordering ({s})")]
        ref_variant = next(v for _, v in layout if parse_variant(v) == ABLATION_BASE)

        def measured_hit(rows, variant):
            hit = [r for r in rows if parse_variant(r["variant"]) == parse_variant(variant)]
            return hit[-1] if hit else None

        body = []
        for disp, variant in layout:
            row = [Cell(_text(d, fmt)) for d in disp]
            p = by_table_variant.get((f"Table {key}", variant))
            row.append(_num_cell(p, "overall", fmt) if p else Cell("-"))
            for s, rows in measured.items():
                m = measured_hit(rows, variant)
                row.append(_num_cell(m, "overall", fmt) if m else Cell("-"))
                row.append(
                    Cell(
                        ordering_verdict(
                            p,
                            by_table_variant.get((f"Table {key}", ref_variant)),
                            m,
                            measured_hit(rows, ref_variant),
                            variant == ref_variant,
                        )
                    )
                )
            body.append(row)
        better = [None] * len(cols) + ["max"] + ["max", None] * len(measured)
        align = "l" * len(cols) + "c" * (1 + 2 * len(measured))
        text = _to_text(_frame(header, body, better, fmt), fmt, align)
        if fmt == "markdown":
            parts.append(f"({key[-1]}) {title}\n\n{text}")
        else:
            parts.append(
                f"\\begin{{minipage}}[t]{{0.48\\linewidth}}\\centering\n"
                f"\\textbf{{({key[-1]})}} {_tex_escape(title)}\\\\[2pt]\n{text}\n\\end{{minipage}}"
            )
    stray = [r for rows in measured.values() for r in rows if parse_variant(r["variant"]) not in all_cells]
    body = ("\n\n" if fmt == "markdown" else "\\hfill\n").join(parts)
    if stray and n == 4:
        listed = "; ".join(f"{r['suite']} {r['method']}[{r['variant'] or 'main'}]" for r in stray)
        body += ("\n\n" if fmt == "markdown" else "\n") + (
            f"Measured ablation rows outside the Tables 3-4 layout: {listed}"
            if fmt == "markdown"
            else f"% measured ablation rows outside the Tables 3-4 layout: {listed}"
        )
    return _wrap(n, fmt, measured, body)


def ordering_verdict(
    paper: dict | None,
    paper_ref: dict | None,
    meas: dict | None,
    meas_ref: dict | None,
    is_ref: bool,
    metric: str = "overall",
) -> str:
    """Does the measured row sit on the same side of the reference configuration (the paper's default:
    STE, no GAN, student drafts, feature space, three bandwidths, all blocks on a grid) as the paper's?
    'within noise' when the measured gap is inside the combined 95% t-intervals of the two rows; with one
    seed there is no interval and the verdict says so."""
    if is_ref:
        return "reference"
    if (
        not (paper and paper_ref and meas and meas_ref)
        or metric not in meas["metrics"]
        or metric not in meas_ref["metrics"]
    ):
        return "-"
    gap_paper = paper["metrics"][metric]["mean"] - paper_ref["metrics"][metric]["mean"]
    a, b = meas["metrics"][metric], meas_ref["metrics"][metric]
    gap = a["mean"] - b["mean"]
    halves = [(m["interval"][1] - m["interval"][0]) / 2 for m in (a, b) if "interval" in m]
    if len(halves) == 2 and abs(gap) <= math.hypot(*halves):
        return "within noise"
    verdict = "holds" if gap * gap_paper > 0 else "reversed" if gap * gap_paper < 0 else "tie"
    return verdict if len(halves) == 2 else f"{verdict} (1 seed)"


# ---------------------------------------------------------------- public API


def render_table(n: int, fmt: Fmt = "markdown", suite: str | None = None, root: str | Path | None = None) -> str:
    """Table n (1-4) as Markdown or LaTeX: paper rows plus measured rows of `suite` (default: the
    table's paper suite and its shapes-world counterpart)."""
    if fmt not in ("markdown", "latex"):
        raise LeaderboardError(f"unknown format '{fmt}'; choose markdown or latex")
    _suites(n, suite)
    return _comparison(n, fmt, suite, root) if n in (1, 2) else _ablation(n, fmt, suite, root)


def render_all(fmt: Fmt = "markdown", suite: str | None = None, root: str | Path | None = None) -> str:
    """All tables that can show `suite` (all four when None), separated by blank lines."""
    if suite is not None:
        check_suite(suite)
    ns = [n for n in PAPER_SUITE if suite is None or suite in TABLE_SUITES[n]]
    return "\n".join(render_table(n, fmt, suite, root) for n in ns)
