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


WORDNET_SYNSETS = 24_000   # a seeded sample of WordNet's 117,791 synsets: about 0.63 M tokens (2 shared cores)
WORDNET_MAX_LEN = 64


def wordnet_texts(n: int = WORDNET_SYNSETS, seed: int = 0) -> list[str]:
    import numpy as np
    from .wordnet import synset_texts
    texts = synset_texts()
    if n < len(texts):
        pick = np.sort(np.random.default_rng(seed).choice(len(texts), n, replace=False))
        texts = [texts[i] for i in pick]
    return texts


def wordnet_cache(reuse: bool = True, n: int = WORDNET_SYNSETS, model=None) -> Cache:
    """Backbone token states of WordNet synset texts (synonyms + gloss), for stage 1 and the labels only."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    p = WORK_DIR / f"cache_wordnet{n}_len{WORDNET_MAX_LEN}.npz"
    if reuse and p.exists():
        print(f"  reusing {p.name}", flush=True)
        return Cache.load(p)
    c = encode_cache(wordnet_texts(n), WORDNET_MAX_LEN, model=model or load_backbone(), batch_tokens=8192)
    c.save(p)
    return c
