"""Concept labels of whole words, their coherence, and the top concepts of fixed queries.

- Label: over a sample of token states (training-collection documents + WordNet texts), each concept's
  strongest activations are mapped back to the *whole word* the token belongs to (word pieces merged:
  "vit ##amin" -> "vitamin"); stop words, single characters and pure numbers are dropped, words with
  the same Snowball stem are counted together (shown as their most frequent form); the label is the
  (up to) 4 most frequent remaining words. A concept with no activation in the sample has an empty label.
- Coherence of a label: the mean pairwise cosine of its words under the teacher (all-MiniLM-L6-v2,
  each word embedded alone). The same measure over random words gives the chance level.
"""
from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import torch

from .common import id_to_token, poolable_table

# the ten fixed queries whose top concepts REPORT.md shows (written for this report; none is a test query)
FIXED_QUERIES = [
    "How does obesity affect the risk of diabetes?",
    "vitamin D deficiency and bone fractures",
    "time sharing operating system",
    "automatic indexing of library documents",
    "measurement of the dielectric constant of liquids",
    "heart attack and high blood pressure",
    "antibiotic resistance in hospital bacteria",
    "the stock market crashed and investors lost money",
    "a river bank eroded by the flood",
    "jaguar speed in the rain forest",
]


def _stopwords() -> set[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    return set(ENGLISH_STOP_WORDS) | {"s", "t", "don", "ll", "ve", "re", "et", "al", "eg", "ie", "etc"}


def word_index(ids: np.ndarray):
    """For a ragged concatenation of token ids: word number of each token (a '##' piece continues the
    previous token's word) and the start of each word."""
    vocab = id_to_token()
    cont = np.array([t.startswith("##") for t in vocab], dtype=bool)
    c = cont[ids]
    wid = np.cumsum(~c) - 1
    starts = np.nonzero(~c)[0]
    return wid, starts, vocab


def word_at(p: int, wid, starts, ids, vocab) -> str:
    w = wid[p]
    a = starts[w]
    b = starts[w + 1] if w + 1 < len(starts) else len(ids)
    return "".join(vocab[i][2:] if vocab[i].startswith("##") else vocab[i] for i in ids[a:b]).lower()


@torch.no_grad()
def concept_labels(sae, states: np.ndarray, ids: np.ndarray, max_tokens: int = 300_000, top_occ: int = 60,
                   n_words: int = 4, seed: int = 0):
    """Whole-word labels. Returns (labels, activation counts in the sample, label word lists)."""
    import Stemmer
    stem = Stemmer.Stemmer("english").stemWord
    stop = _stopwords()
    keep = poolable_table()[ids]
    pos = np.nonzero(keep)[0]
    if len(pos) > max_tokens:
        pos = np.sort(np.random.default_rng(seed).choice(pos, max_tokens, replace=False))
    cs, vs, ps = [], [], []
    old, sae.fast_select = sae.fast_select, True   # bfloat16 top-k selection: 3x faster, labels only
    for a in range(0, len(pos), 4096):
        p = pos[a:a + 4096]
        x = torch.from_numpy(states[p].astype(np.float32))
        idx, val = sae.select(x)
        cs.append(idx.numpy().ravel())
        vs.append(val.numpy().ravel())
        ps.append(np.repeat(p, idx.shape[1]))
    sae.fast_select = old
    c, v, t = np.concatenate(cs), np.concatenate(vs), np.concatenate(ps)
    ok = v > 0
    c, v, t = c[ok], v[ok], t[ok]
    order = np.lexsort((-v, c))
    c, t = c[order], t[order]
    lo = np.searchsorted(c, np.arange(sae.n))
    hi = np.searchsorted(c, np.arange(sae.n), side="right")
    wid, starts, vocab = word_index(ids)
    cache: dict[int, str] = {}
    labels, words_of = [], []
    for j in range(sae.n):
        cnt: Counter = Counter()
        forms: dict[str, Counter] = defaultdict(Counter)
        for p in t[lo[j]:hi[j]]:
            w = int(wid[p])
            s = cache.get(w)
            if s is None:
                s = cache[w] = word_at(int(p), wid, starts, ids, vocab)
            if len(s) < 2 or s in stop or not any(ch.isalpha() for ch in s):
                continue
            k = stem(s)
            cnt[k] += 1
            forms[k][s] += 1
            if sum(cnt.values()) >= top_occ:
                break
        ws = [forms[k].most_common(1)[0][0] for k, _ in cnt.most_common(n_words)]
        words_of.append(ws)
        labels.append(" ".join(ws))
    return labels, (hi - lo), words_of


@torch.no_grad()
def word_embeddings(words: list[str], model) -> dict[str, np.ndarray]:
    from .backbone import encode_cache
    uniq = sorted(set(words))
    c = encode_cache(uniq, 16, model=model, keep_states=False, batch_tokens=8192, max_batch=512)
    return {w: c.emb[i] for i, w in enumerate(uniq)}


def coherence(words_of: list[list[str]], emb: dict[str, np.ndarray]) -> np.ndarray:
    """Mean pairwise cosine of each label's words (NaN where a label has fewer than 2 words)."""
    out = np.full(len(words_of), np.nan)
    for j, ws in enumerate(words_of):
        ws = [w for w in ws if w in emb]
        if len(ws) < 2:
            continue
        E = np.stack([emb[w] for w in ws])
        S = E @ E.T
        n = len(ws)
        out[j] = (S.sum() - np.trace(S)) / (n * (n - 1))
    return out


def coherence_summary(coh: np.ndarray, words_of, emb, seed: int = 0) -> dict:
    """Distribution of label coherence, with the chance level (labels of random label words)."""
    rng = np.random.default_rng(seed)
    pool = [w for ws in words_of for w in ws if w in emb]
    rand = [list(rng.choice(pool, 4, replace=False)) for _ in range(2000)] if len(pool) > 4 else []
    rc = coherence(rand, emb)
    v = coh[~np.isnan(coh)]
    q = np.percentile(v, [10, 25, 50, 75, 90]) if len(v) else [np.nan] * 5
    return {"n_labels_2plus_words": int(len(v)), "mean": float(v.mean()) if len(v) else float("nan"),
            "p10": float(q[0]), "p25": float(q[1]), "median": float(q[2]), "p75": float(q[3]), "p90": float(q[4]),
            "share_above_0.5": float((v > 0.5).mean()) if len(v) else float("nan"),
            "random_4_words_mean": float(np.nanmean(rc)) if len(rc) else float("nan")}


@torch.no_grad()
def fixed_query_concepts(sae, model, labels: list[str], queries=FIXED_QUERIES, top: int = 6, max_len: int = 64):
    from .backbone import encode_cache
    from .stage2 import gather_tokens
    qc = encode_cache(list(queries), max_len, model=model)
    x, seg, keep = gather_tokens(qc, np.arange(len(queries)), 10_000, poolable_table())
    P = sae.pool(x, seg, len(queries), keep)
    out = []
    for i, q in enumerate(queries):
        v, ix = P[i].topk(top)
        out.append({"query": q, "nnz": int((P[i] > 0).sum()),
                    "top": [(int(c), round(float(w), 3), labels[int(c)]) for c, w in zip(ix, v) if w > 0]})
    return out
