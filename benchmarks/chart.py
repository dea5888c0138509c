"""Draw the benchmarks' ratio tables as one chart: convcli's time / the peer's time per case, a line at 1.0.

Run:  python benchmarks/chart.py [--engine benchmarks/results/engine.md] [--e2e benchmarks/results/e2e.md]
                                 [--out benchmarks/results/ratios.png]

Needs matplotlib (``pip install -e .[bench]``).  Reads the Markdown tables that
bench_engine.py and bench_e2e.py write: every row whose last cell is a number
(the "convcli auto / peer" or "convcli / tool" column) is one bar, from 1.0 to
the ratio on a log scale: left of the line convcli is faster, right of it
slower.  bench_engine.py calls it after writing its table.  The PNG carries no
date or version, so the same tables give the same bytes.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
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


def draw(tables: list[tuple[str, list[tuple[str, float]]]], out: Path) -> None:
    """One panel of horizontal bars per table, each bar from 1.0 to the ratio (log scale), saved to ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tables = [(title, rows) for title, rows in tables if rows]
    sizes = [len(rows) for _, rows in tables]
    fig, axes = plt.subplots(len(tables), 1, figsize=(10, 1.2 + 0.24 * sum(sizes) + 0.8 * len(tables)),
                             gridspec_kw={"height_ratios": sizes}, squeeze=False)
    values = [ratio for _, rows in tables for _, ratio in rows]
    low = 2.0 ** math.floor(math.log2(min(*values, 0.5)))
    high = 2.0 ** math.ceil(math.log2(max(*values, 2.0)))
    for ax, (title, rows) in zip(axes[:, 0], tables, strict=True):
        labels = [label for label, _ in rows][::-1]
        ratios = [ratio for _, ratio in rows][::-1]
        colours = ["#2a9d8f" if r < 1 else "#e76f51" for r in ratios]
        ax.barh(range(len(rows)), [r - 1 for r in ratios], left=1.0, color=colours, height=0.7)
        ax.axvline(1.0, color="black", linewidth=1)
        for y, r in enumerate(ratios):
            ax.text(r * (1.04 if r >= 1 else 0.96), y, f"{r:.2f}", va="center", ha="left" if r >= 1 else "right",
                    fontsize=7)
        ax.set_xscale("log", base=2)
        ax.set_xlim(low / 1.5, high * 1.5)
        ax.set_xticks([2.0 ** e for e in range(round(math.log2(low)), round(math.log2(high)) + 1)])
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_yticks(range(len(rows)), labels, fontsize=7)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_title(title, fontsize=9, loc="left")
        ax.grid(axis="x", color="#dddddd", linewidth=0.5)
        ax.set_axisbelow(True)
    axes[-1, 0].set_xlabel("convcli time / peer time (log scale): < 1 convcli is faster, > 1 the peer is")
    fig.tight_layout()
    fig.savefig(out, dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", type=Path, default=RESULTS / "engine.md")
    parser.add_argument("--e2e", type=Path, help="default: e2e.md beside --engine, if it is there")
    parser.add_argument("--out", type=Path, help="default: ratios.png beside --engine")
    args = parser.parse_args(argv)
    e2e = args.e2e or args.engine.parent / "e2e.md"
    out = args.out or args.engine.parent / "ratios.png"
    tables = [("Engine: convcli auto / peer, one float32 plane in memory (benchmarks/bench_engine.py)",
               read_ratios(args.engine))]
    if e2e.is_file():
        tables.append(("End to end: convcli / tool, files in and out (benchmarks/bench_e2e.py)", read_ratios(e2e)))
    try:
        draw(tables, out)
    except ImportError:
        print("chart skipped: matplotlib is not installed (pip install -e '.[bench]')")
        return
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
