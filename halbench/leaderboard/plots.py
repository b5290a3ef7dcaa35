"""Leaderboard plots (matplotlib, SVG at build time; extra ``[leaderboard]``).

1. Hallucination against helpfulness, as in the RLHF-V paper's headline figure: Object
   HalBench response-level rate (y, lower is better) against the mean of the three
   LLaVA-Bench relative scores (x), one point per model that has both.
2. One bar chart per column that has at least two numbers, with the 95% bootstrap interval
   as an error bar where a cell has one (clipped at the number when the number lies outside
   its interval; the caption names those rows).

Labels are drawn as plain text (math parsing off), so any model name is safe; matplotlib
escapes text in SVG output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from halbench.leaderboard.data import Table, error_bar, outside_interval, slug


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update(
        {"text.parse_math": False, "svg.hashsalt": "halbench", "font.size": 9}
    )
    import matplotlib.pyplot as plt

    return plt


def _value(table: Table, row_index: int, key: str) -> float | None:
    cell = table.rows[row_index].cells.get(key)
    return None if cell is None else cell.value


def make_plots(
    table: Table, out_dir: Path, our_runs: list[str] | None = None
) -> list[tuple[str, str]]:
    """Write SVG files into ``out_dir``; return (file name, caption) pairs.

    ``our_runs``: every run's row label; the scatter plot's caption says why each one that
    is not plotted is absent.
    """
    plt = _pyplot()
    out_dir.mkdir(parents=True, exist_ok=True)
    made: list[tuple[str, str]] = []
    keys = {c.key for c in table.columns}
    helpful = ["llavabench_conv", "llavabench_detail", "llavabench_complex"]
    if "objhal_resp" in keys and all(k in keys for k in helpful):
        points, absent = [], []
        for i, row in enumerate(table.rows):
            y = _value(table, i, "objhal_resp")
            xs = [_value(table, i, k) for k in helpful]
            if y is not None and all(x is not None for x in xs):
                points.append((sum(xs) / 3, y, row.model, row.kind))  # type: ignore[arg-type]
            elif row.kind != "reported":
                missing = "Object HalBench Resp." if y is None else "all three LLaVA-Bench columns"
                absent.append(f"{row.model}: no {missing}")
        shown = {row.model for row in table.rows}
        absent += [
            f"{name}: no run that matches this table's columns"
            for name in dict.fromkeys(our_runs or [])
            if name not in shown
        ]
        if len(points) >= 2:
            fig, ax = plt.subplots(figsize=(6.4, 4.4))
            colors = {"our run": "#0b5cad", "reproduced": "#c05a00"}
            for x, y, name, kind in points:
                ax.scatter([x], [y], color=colors.get(kind, "#444"), s=28)
                ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 3))
            ax.set_xlabel("LLaVA-Bench relative score, mean of 3 categories (higher is better)")
            ax.set_ylabel("Object HalBench Resp. % (lower is better)")
            ax.grid(alpha=0.3)
            fig.tight_layout()
            fig.savefig(out_dir / "hallucination-vs-helpfulness.svg")
            plt.close(fig)
            caption = "Hallucination against helpfulness (RLHF-V's headline view)"
            if absent:
                caption += ". Not plotted (a point needs both coordinates): " + "; ".join(absent)
            made.append(("hallucination-vs-helpfulness.svg", caption))
    for col in table.columns:
        bars = [
            (row.model, row.cells[col.key])
            for row in table.rows
            if col.key in row.cells and row.cells[col.key].value is not None
        ]
        if len(bars) < 2:
            continue
        fig, ax = plt.subplots(figsize=(6.4, 0.32 * len(bars) + 1.2))
        names = [b[0] for b in bars]
        values = [b[1].value for b in bars]
        lo, hi = zip(*(error_bar(b) for _, b in bars), strict=True)
        outside = [name for name, b in bars if outside_interval(b)]
        palette = {"our run": "#0b5cad", "reproduced": "#c05a00"}
        colors = [palette.get(str(b.provenance.get("source")), "#999") for _, b in bars]
        ax.barh(range(len(bars)), values, color=colors)
        with_ci = [i for i, (_, b) in enumerate(bars) if b.ci]  # reported numbers have none
        if with_ci:
            ax.errorbar(
                [values[i] for i in with_ci],
                with_ci,
                xerr=[[lo[i] for i in with_ci], [hi[i] for i in with_ci]],
                fmt="none",
                ecolor="#222",
                capsize=2,
            )
        ax.set_yticks(range(len(bars)), names)
        ax.invert_yaxis()
        ax.set_xlabel(f"{col.label} ({col.better} is better)")
        ax.grid(axis="x", alpha=0.3)
        fig.tight_layout()
        name = f"bar-{slug(col.key)}.svg"
        fig.savefig(out_dir / name)
        plt.close(fig)
        caption = col.label
        if outside:
            caption += (
                f" (error bar clipped: the number lies outside its bootstrap interval for "
                f"{', '.join(outside)})"
            )
        made.append((name, caption))
    return made
