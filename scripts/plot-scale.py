"""Draws `saesplade bench scale --out` results: p50 latency (and p99, dashed) against index size, one line per
search variant, one panel per concurrency. Usage: python scripts/plot-scale.py <result.json> <out.png>
(scripts/plot-scale.sh installs matplotlib into a venv of its own and runs this)."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

res = json.load(open(sys.argv[1]))
concs = sorted({r["concurrency"] for s in res["sizes"] for r in s["rows"]})
variants = list(dict.fromkeys(r["variant"] for s in res["sizes"] for r in s["rows"]))
fig, axes = plt.subplots(1, len(concs), figsize=(5.5 * len(concs), 4.2), squeeze=False)
for ax, c in zip(axes[0], concs):
    for v in variants:
        pts = [(s["n"], r["p50"], r["p99"]) for s in res["sizes"] for r in s["rows"] if r["variant"] == v and r["concurrency"] == c]
        if not pts:
            continue
        n, p50, p99 = zip(*pts)
        line, = ax.plot(n, p50, marker="o", label=f"{v} p50")
        ax.plot(n, p99, linestyle="--", color=line.get_color(), alpha=0.6, label=f"{v} p99")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("documents in the index")
    ax.set_ylabel("latency per search (ms)")
    ax.set_title(f"concurrency {c}")
    ax.grid(True, which="both", alpha=0.3)
axes[0][0].legend(fontsize=7)
fig.suptitle(f"bench scale: synthetic collections following {res['profile']['source']} ({res['model']['name']} {res['model']['version']})", fontsize=9)
fig.text(0.5, 0.005, res["machine"], ha="center", fontsize=6)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=110)
print(f"wrote {sys.argv[2]}")
