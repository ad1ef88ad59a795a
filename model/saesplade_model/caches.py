"""Backbone caches per collection (model/work/)."""
from __future__ import annotations

from pathlib import Path

from .backbone import Cache, encode_cache
from .common import DOC_MAX_LEN, WORK_DIR, load_backbone
from .data import load_corpus


def doc_cache(name: str, reuse: bool = True, limit: int | None = None, model=None) -> Cache:
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    tag = f"_first{limit}" if limit else ""
    p = WORK_DIR / f"cache_{name}_doc{DOC_MAX_LEN}{tag}.npz"
    if reuse and p.exists():
        print(f"  reusing {p.name}", flush=True)
        return Cache.load(p)
    ids, texts = load_corpus(name)
    if limit:
        texts = texts[:limit]
    c = encode_cache(texts, DOC_MAX_LEN, model=model or load_backbone())
    c.save(p)
    return c
