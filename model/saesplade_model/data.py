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
