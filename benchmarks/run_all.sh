#!/usr/bin/env bash
# Every benchmark, one after the other (about 40 minutes on a 2-core machine); results in benchmarks/results/.
# Peers: pip install opencv-python-headless scipy; apt-get install imagemagick libvips-tools (missing ones are skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
python benchmarks/bench_targets.py --out benchmarks/results/targets.md   # ~12 min: issue 15's targets, met or not (+ ratios.png)
python benchmarks/bench_engine.py --out benchmarks/results/engine.md
python benchmarks/bench_regret.py --out benchmarks/results/regret.md
python benchmarks/bench_e2e.py --skip-magick-slow --out benchmarks/results/e2e.md
python benchmarks/chart.py   # targets, engine and e2e tables as one chart -> benchmarks/results/ratios.png (needs matplotlib)
python benchmarks/bench_multiply.py --out benchmarks/results/multiply.md
python benchmarks/bench_streaming.py --out benchmarks/results/streaming.md   # ~20 min: a 40,000² tiled TIFF (1.4 GB, cached in /tmp/convcli-bench); vips optional
python benchmarks/bench_cluster.py --out benchmarks/results/cluster.md   # ~8 min; needs the dask extra
python benchmarks/fit_cost_model.py   # prints the fit; add --write to update the chooser's constants
