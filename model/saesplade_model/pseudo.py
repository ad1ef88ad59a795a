"""Pseudo-queries drawn from documents (label-free training queries for stage 2 and for `adapt`), torch-free.

A pseudo-query is the document's title, one of its sentences (at most 24 words) or a 4-12 word span of it;
its positive is the document it came from."""
from __future__ import annotations

import re

_SENT = re.compile(r"(?<=[.!?;])\s+")


def _span(words, rng, lo=4, hi=12):
    if len(words) <= lo:
        return " ".join(words)
    n = int(rng.integers(lo, min(hi, len(words)) + 1))
    a = int(rng.integers(0, len(words) - n + 1))
    return " ".join(words[a:a + n])


def pseudo_queries_of(fields: list[tuple[str, str]], per_doc: float, rng) -> list[tuple[int, str]]:
    """(document row, query text) pairs; `fields` = (title, text) per document."""
    out = []
    for i, (title, text) in enumerate(fields):
        n = int(per_doc) + (1 if rng.random() < per_doc - int(per_doc) else 0)
        sents = [s for s in _SENT.split(text) if len(s.split()) >= 4]
        for _ in range(n):
            r = rng.random()
            if title and text and r < 0.35:
                q = title
            elif len(sents) > 1 and r < 0.7:
                q = sents[int(rng.integers(len(sents)))]
                q = " ".join(q.split()[:24])
            else:
                words = (title + " " + text).split()
                q = _span(words, rng)
            if len(q.split()) >= 2:
                out.append((i, q))
    return out
