#!/usr/bin/env python3
"""Draws bench/scale.py's CSV: each operation's median latency against the number of clients
(log-log), one panel per database. `scale_plot.py CSV PNG`. Needs matplotlib."""

import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

rows = defaultdict(lambda: defaultdict(list))
with open(sys.argv[1]) as f:
    for backend, size, op, p50, _p99, _ratio in csv.reader(f):
        if op.startswith("import"):
            continue
        rows[backend][op].append((int(size), float(p50)))
fig, axes = plt.subplots(1, len(rows), figsize=(7 * len(rows), 5), squeeze=False)
for ax, (backend, ops) in zip(axes[0], sorted(rows.items())):
    for op, points in sorted(ops.items()):
        points.sort()
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=op)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("clients in the tenant")
    ax.set_ylabel("median latency (ms)")
    ax.set_title(f"Clavis registry at scale ({backend})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=110)
