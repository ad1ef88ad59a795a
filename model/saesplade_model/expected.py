"""expected.json: a package's reference figures as data (issue 18.8), beside its REPORT.md.

`saesplade eval` compares what it measures through OpenSearch with these figures, and `saesplade eval
--check` exits non-zero when one is outside its tolerance (Pyserini's regression matrix style). They are
taken from the REPORT.md results table (the one whose header has `<collection> nDCG@10 / MRR@10 / R@100`
columns): the row of the shipped graph (exact dot products of the ONNX graph's vectors, what the product
must agree with); "not measured" cells are left out. Torch-free.

    python -m saesplade_model.expected models/default      # writes models/default/expected.json

A report writer calls `write_expected(package_dir)` after writing REPORT.md (package.write_package does).
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

FORMAT = "saesplade-expected/1"
# |measured - expected| allowed per metric: nDCG@10 as `saesplade eval --tolerance`'s default; MRR@10 and
# R@100 move more with a single swapped document on small collections.
TOLERANCE = {"ndcg10": 0.01, "mrr10": 0.02, "recall100": 0.02}
# Row preference, as src/eval/reference.ts: the shipped graph, then any ONNX SAE row, then the model.
PREFERENCE = [r"shipped", r"sae.*onnx|onnx.*sae", r"sae|splade|concept"]
NEVER = r"bm25|teacher|dense|vocabulary|cassette|ablation"


def _cells(line: str) -> list[str]:
    t = line.strip()
    if not t.startswith("|"):
        return []
    return [c.strip() for c in t.strip("|").split("|")]


def _figure(cell: str) -> dict | None:
    parts = [p.strip().replace("*", "") for p in cell.split("/")]
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        return None
    if not nums:
        return None
    out = {"ndcg10": nums[0]}
    if len(nums) >= 3:
        out["mrr10"], out["recall100"] = nums[1], nums[2]
    return out


def expected_from_report(markdown: str) -> dict:
    """The expected.json object for a REPORT.md: {format, system, collections: {name: {ndcg10, mrr10, recall100}}, tolerance}."""
    lines = markdown.splitlines()
    rows: list[tuple[str, dict]] = []  # (label, {collection: figure})
    for i, line in enumerate(lines):
        head = _cells(line)
        cols = {j: m.group(1).lower() for j, h in enumerate(head) if j > 0 and (m := re.match(r"^([\w.-]+)\s+nDCG@10", h, re.I))}
        if not cols:
            continue
        for row_line in lines[i + 2:]:
            row = _cells(row_line)
            if not row:
                break
            label = row[0]
            if re.search(NEVER, label, re.I):
                continue
            figs = {name: f for j, name in cols.items() if j < len(row) and (f := _figure(row[j])) is not None}
            if figs:
                rows.append((label, figs))
    for pattern in PREFERENCE:
        for label, figs in rows:
            if re.search(pattern, label, re.I):
                return {
                    "format": FORMAT,
                    "source": "REPORT.md, results table (exact dot products in Python, judged test queries only)",
                    "system": re.sub(r"\*\*", "", label),
                    "collections": figs,
                    "tolerance": dict(TOLERANCE),
                }
    raise ValueError("REPORT.md has no results table with a measured SAE-SPLADE row (`| system | <collection> nDCG@10 / MRR@10 / R@100 |`)")


def write_expected(package_dir: str | Path) -> Path:
    """Writes <package>/expected.json from <package>/REPORT.md; returns its path."""
    d = Path(package_dir)
    data = expected_from_report((d / "REPORT.md").read_text())
    out = d / "expected.json"
    out.write_text(json.dumps(data, indent=2) + "\n")
    return out


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["models/default"]:
        print(write_expected(arg))
