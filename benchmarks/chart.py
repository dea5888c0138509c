"""Draw the benchmarks' ratio tables as one chart: convcli's time / the peer's time per case, a line at 1.0.

Run:  python benchmarks/chart.py [--targets benchmarks/results/targets.md] [--engine benchmarks/results/engine.md]
                                 [--e2e benchmarks/results/e2e.md] [--out benchmarks/results/ratios.png]

Needs matplotlib (``pip install -e .[bench]``).  Reads the Markdown tables that
bench_engine.py and bench_e2e.py write: every row whose last cell is a number
(the "convcli auto / peer" or "convcli / tool" column) is one bar, from 1.0 to
the ratio on a log scale: left of the line convcli is faster, right of it
slower.  bench_engine.py calls it after writing its table.  The PNG carries no
date or version, so the same tables give the same bytes.

A targets table (bench_targets.py's summary: target | convcli | peer | ratio | goal | met?) is the
first panel: one bar per measured target, green where the goal is met and red where it is missed, the
goal marked by a blue tick (two for a range).  Without --targets, targets.md beside --engine is drawn
when it is there, above the engine and end-to-end panels; with --targets (bench_targets.py's call), only
the tables named are drawn.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Goal, read_table

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS_TITLE = ("Issue 15's targets (benchmarks/bench_targets.py): convcli / peer, or / the limit; the blue tick is"
                 " the goal; green met, red missed")
#: the column naming the peer in each table (the columns before it name the case)
PEER_COLUMNS = ("implementation", "tool")


def read_ratios(path: Path) -> list[tuple[str, float]]:
    """``("case: peer", ratio)`` for every row of the table in ``path`` whose last cell is a number."""
    header: list[str] | None = None
    ratios = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|") or set(line) <= set("|- "):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if any(name in cells for name in PEER_COLUMNS):
            header = cells
            continue
        if header is None or len(cells) != len(header):
            continue
        try:
            ratio = float(cells[-1])
        except ValueError:
            continue
        peer = next(header.index(name) for name in PEER_COLUMNS if name in header)
        ratios.append((f"{', '.join(cells[:peer])}: {cells[peer]}", ratio))
    return ratios


def read_targets(path: Path) -> list[tuple[str, float, Goal]]:
    """``(target, ratio, goal)`` for every row of the targets table in ``path`` with a measured ratio."""
    rows = []
    for row in read_table(path.read_text(encoding="utf-8"), "target"):
        goal = Goal.parse(row.get("goal", ""))
        try:
            ratio = float(row.get("ratio", ""))
        except ValueError:
            continue
        if goal is not None:
            rows.append((row["target"], ratio, goal))
    return rows


Row = tuple[str, float] | tuple[str, float, Goal]


def tick_label(value: float, _position: object = None) -> str:
    """Powers of two as 4, 2, 1, 1/2, 1/4 (0.015625 would run into its neighbours)."""
    return f"{value:g}" if value >= 1 else f"1/{1 / value:g}"


def draw(tables: list[tuple[str, list[Row]]], out: Path) -> None:
    """One panel of horizontal bars per table, each bar from 1.0 to the ratio (log scale), saved to ``out``.

    A row with a goal is coloured by whether the goal is met, and the goal is marked on its bar.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(title, [(row[0], row[1], row[2] if len(row) > 2 else None) for row in rows])
              for title, rows in tables if rows]
    sizes = [len(rows) for _, rows in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 1.2 + 0.24 * sum(sizes) + 0.8 * len(panels)),
                             gridspec_kw={"height_ratios": sizes}, squeeze=False)
    values = [ratio for _, rows in panels for _, ratio, _ in rows]
    values += [bound for _, rows in panels for *_, goal in rows if goal for bound in (goal.high, goal.low) if bound]
    low = 2.0 ** math.floor(math.log2(min(*values, 0.5)))
    high = 2.0 ** math.ceil(math.log2(max(*values, 2.0)))
    for ax, (title, rows) in zip(axes[:, 0], panels, strict=True):
        labels = [label for label, _, _ in rows][::-1]
        ratios = [ratio for _, ratio, _ in rows][::-1]
        goals = [goal for _, _, goal in rows][::-1]
        colours = ["#2a9d8f" if (goal.met(r) if goal else r < 1) else "#e76f51"
                   for r, goal in zip(ratios, goals, strict=True)]
        ax.barh(range(len(rows)), [r - 1 for r in ratios], left=1.0, color=colours, height=0.7)
        ax.axvline(1.0, color="black", linewidth=1)
        for y, goal in enumerate(goals):
            for bound in (goal.high, goal.low) if goal else ():
                if bound:
                    ax.plot([bound, bound], [y - 0.5, y + 0.5], color="#1d3557", linewidth=2.5,
                            solid_capstyle="butt")
        for y, r in enumerate(ratios):
            ax.text(r * (1.04 if r >= 1 else 0.96), y, f"{r:.2f}", va="center", ha="left" if r >= 1 else "right",
                    fontsize=7)
        ax.set_xscale("log", base=2)
        ax.set_xlim(low / 1.5, high * 1.5)
        ax.set_xticks([2.0 ** e for e in range(round(math.log2(low)), round(math.log2(high)) + 1)])
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(tick_label))
        ax.set_yticks(range(len(rows)), labels, fontsize=7)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_title(title, fontsize=9, loc="left")
        ax.grid(axis="x", color="#dddddd", linewidth=0.5)
        ax.set_axisbelow(True)
    with_goals = any(goal for _, rows in panels for *_, goal in rows)
    axes[-1, 0].set_xlabel("convcli / peer: time (or file size; for a limit, convcli / the limit), log scale: < 1"
                           " convcli is faster" if with_goals else
                           "convcli time / peer time (log scale): < 1 convcli is faster, > 1 the peer is")
    fig.tight_layout()
    fig.savefig(out, dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=Path,
                        help="draw this targets table (and only the other tables named); default: targets.md"
                             " beside --engine, if it is there")
    parser.add_argument("--engine", type=Path, help="default: benchmarks/results/engine.md (none with --targets)")
    parser.add_argument("--e2e", type=Path, help="default: e2e.md beside --engine, if it is there")
    parser.add_argument("--out", type=Path, help="default: ratios.png beside --engine (or --targets)")
    args = parser.parse_args(argv)
    if args.targets is not None:
        targets, engine, e2e = args.targets, args.engine, args.e2e
    else:
        engine = args.engine or RESULTS / "engine.md"
        targets, e2e = engine.parent / "targets.md", args.e2e or engine.parent / "e2e.md"
    out = args.out or (engine or targets).parent / "ratios.png"
    tables: list[tuple[str, list[Row]]] = []
    if args.targets is not None or targets.is_file():
        tables.append((TARGETS_TITLE, read_targets(targets)))
    if engine is not None:
        tables.append(("Engine: convcli auto / peer, one float32 plane in memory (benchmarks/bench_engine.py)",
                       read_ratios(engine)))
    if e2e is not None and e2e.is_file():
        tables.append(("End to end: convcli / tool, files in and out (benchmarks/bench_e2e.py)", read_ratios(e2e)))
    try:
        draw(tables, out)
    except ImportError:
        print("chart skipped: matplotlib is not installed (pip install -e '.[bench]')")
        return
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
