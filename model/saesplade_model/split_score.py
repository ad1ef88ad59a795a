"""nDCG@10 of TREC run files (what `saesplade eval --run-dir` writes) on the dev / test halves of a
collection's judged queries (data.split_of: odd query ids = dev, even = test) and on all of them. Torch-free.

    python -m saesplade_model.split_score <qrels/test.tsv> <run.trec> [<run.trec> ...] [--json]"""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from .data import split_of
from .metrics import evaluate_run


def read_qrels(path: Path) -> dict[str, dict[str, float]]:
    q: dict[str, dict[str, float]] = {}
    with open(path, encoding="utf-8", newline="") as f:
        r = csv.reader(f, delimiter="\t")
        next(r)
        for row in r:
            if len(row) >= 3:
                q.setdefault(row[0].strip(), {})[row[1].strip()] = float(row[2])
    return q


def read_run(path: Path) -> dict[str, list[str]]:
    rows: dict[str, list[tuple[int, str]]] = {}
    for line in open(path, encoding="utf-8"):
        p = line.split()
        if len(p) >= 4:
            rows.setdefault(p[0], []).append((int(p[3]), p[2]))
    return {q: [d for _, d in sorted(v)] for q, v in rows.items()}


def split_scores(qrels: dict, run: dict) -> dict:
    out = {}
    for half in ("dev", "test", "all"):
        qs = {q: j for q, j in qrels.items() if half == "all" or (q.isdigit() and split_of(q) == half)}
        out[half] = evaluate_run(run, qs)
    return out


def main(argv=None):
    a = [x for x in (argv or sys.argv[1:]) if x != "--json"]
    qrels = read_qrels(Path(a[0]))
    res = {f"{Path(r).parent.name}/{Path(r).name}": split_scores(qrels, read_run(Path(r))) for r in a[1:]}
    if "--json" in (argv or sys.argv[1:]):
        print(json.dumps(res, indent=1))
        return
    for name, s in res.items():
        print(f"{name}: " + ", ".join(f"{h} {s[h]['ndcg10']:.4f} ({s[h]['queries']} q)" for h in ("dev", "test", "all")))


if __name__ == "__main__":
    main()
