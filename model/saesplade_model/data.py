"""BEIR-layout collections: corpus, test queries, qrels."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from .common import DATASETS_DIR


def load_corpus(name: str) -> tuple[list[str], list[str]]:
    ids, texts = [], []
    with open(DATASETS_DIR / name / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            ids.append(str(d["_id"]))
            title = (d.get("title") or "").strip()
            text = (d.get("text") or "").strip()
            texts.append((title + " " + text).strip())
    return ids, texts


def load_corpus_fields(name: str) -> list[tuple[str, str]]:
    out = []
    with open(DATASETS_DIR / name / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            out.append(((d.get("title") or "").strip(), (d.get("text") or "").strip()))
    return out


def load_qrels(name: str) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with open(DATASETS_DIR / name / "qrels" / "test.tsv", encoding="utf-8", newline="") as f:
        r = csv.reader(f, delimiter="\t")
        next(r)
        for row in r:
            if len(row) < 3:
                continue
            q, d, s = row[0].strip(), row[1].strip(), int(row[2].strip())
            qrels.setdefault(q, {})[d] = s
    return qrels


def load_test_queries(name: str) -> tuple[list[str], list[str], dict[str, dict[str, int]]]:
    """Judged test queries only (those in qrels/test.tsv)."""
    qrels = load_qrels(name)
    ids, texts = [], []
    with open(DATASETS_DIR / name / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            qid = str(d["_id"])
            if qid in qrels:
                ids.append(qid)
                texts.append(d["text"].strip())
    return ids, texts, qrels


# The dev/test split of the training collections' judged queries (model 2.0 protocol): every choice of the
# build (settings, checkpoint, number of steps) is made on the dev half only; the test half is reported apart.
# SciFact is held out entirely and has no dev half.
DEV_TEST_COLLECTIONS = ("cisi", "cacm", "npl")


def split_of(qid: str) -> str:
    """'dev' for odd query ids, 'test' for even ones."""
    return "dev" if int(qid) % 2 == 1 else "test"


def load_split_queries(name: str, split: str) -> tuple[list[str], list[str], dict[str, dict[str, int]]]:
    """Judged queries of one half ('dev' = odd ids, 'test' = even ids, 'all')."""
    ids, texts, qrels = load_test_queries(name)
    if split == "all":
        return ids, texts, qrels
    keep = [i for i, q in enumerate(ids) if split_of(q) == split]
    return [ids[i] for i in keep], [texts[i] for i in keep], qrels
