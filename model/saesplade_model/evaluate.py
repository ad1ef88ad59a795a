"""Retrieval evaluation with exact scoring: nDCG@10, MRR@10, Recall@100, non-zeros, FLOPS."""
from __future__ import annotations


import numpy as np
import scipy.sparse as sp
import torch

from .common import DICT_SIZE
from .metrics import mrr_at, ndcg_at, recall_at


def metrics(scores: np.ndarray, qids: list[str], dids: list[str], qrels: dict[str, dict[str, int]]) -> dict:
    """scores [nq, nd] dense."""
    nd10, mrr, r100 = [], [], []
    if len(qids) == 0:
        return {"ndcg10": float("nan"), "mrr10": float("nan"), "recall100": float("nan"), "n_queries": 0}
    S = torch.from_numpy(np.asarray(scores, dtype=np.float32))
    k = min(100, S.shape[1])
    top = S.topk(k, dim=1).indices.numpy()
    for i, q in enumerate(qids):
        rel = {d: s for d, s in qrels.get(q, {}).items() if s > 0}
        ranked = [dids[j] for j in top[i]]
        # one metric code with the product (saesplade_model.metrics, linear gain, as src/eval/metrics.ts)
        nd10.append(ndcg_at(ranked, rel, 10))
        mrr.append(mrr_at(ranked, rel, 10))
        r100.append(recall_at(ranked, rel, 100))
    out = {"ndcg10": float(np.mean(nd10)), "mrr10": float(np.mean(mrr)), "recall100": float(np.mean(r100)),
           "n_queries": len(qids)}
    # the dev/test halves (odd / even query ids) of the training collections' queries
    from .data import split_of
    try:
        halves = [split_of(q) for q in qids]
    except ValueError:
        halves = None
    if halves is not None:
        for h in ("dev", "test"):
            m = [i for i, x in enumerate(halves) if x == h]
            if m:
                out[h] = {"ndcg10": float(np.mean([nd10[i] for i in m])), "mrr10": float(np.mean([mrr[i] for i in m])),
                          "recall100": float(np.mean([r100[i] for i in m])), "n_queries": len(m)}
    return out


def hybrid(a: np.ndarray, b: np.ndarray, w: float = 0.5, top: int = 100) -> np.ndarray:
    """Score fusion as the reference hybrid: w * minmax(a) + (1 - w) * minmax(b), each normalised over the
    query's top `top`, below it 0."""
    from .stage2 import minmax_top
    A = minmax_top(torch.from_numpy(np.asarray(a, dtype=np.float32)), top)
    B = minmax_top(torch.from_numpy(np.asarray(b, dtype=np.float32)), top)
    return (w * A + (1 - w) * B).numpy()


# Width of the score matrices: both dictionaries (16,384 concepts, 30,522 word pieces) fit, so that queries and
# documents of either kind multiply; unused columns change no score, non-zero count or FLOPS.
CSR_WIDTH = max(DICT_SIZE, 1 << 15)


def to_csr(vecs: list[tuple[np.ndarray, np.ndarray]], n: int = CSR_WIDTH) -> sp.csr_matrix:
    indptr = np.zeros(len(vecs) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(i) for i, _ in vecs])
    ind = np.concatenate([i for i, _ in vecs]) if vecs else np.zeros(0, np.int64)
    val = np.concatenate([v for _, v in vecs]) if vecs else np.zeros(0, np.float32)
    # scipy does not check: an id past the width corrupts memory (a segfault in the product)
    if len(ind) and int(ind.max()) >= n:
        raise ValueError(f"concept id {int(ind.max())} does not fit a matrix of width {n}")
    return sp.csr_matrix((val.astype(np.float32), ind, indptr), shape=(len(vecs), n))


def sparse_stats(Q: sp.csr_matrix, D: sp.csr_matrix) -> dict:
    pq = np.asarray((Q > 0).mean(0)).ravel()
    pd = np.asarray((D > 0).mean(0)).ravel()
    return {"nnz_q": float(Q.getnnz(1).mean()), "nnz_d": float(D.getnnz(1).mean()),
            "flops": float((pq * pd).sum())}


def sparse_scores(Q: sp.csr_matrix, D: sp.csr_matrix) -> np.ndarray:
    return (Q @ D.T).toarray()


def bm25_scores(doc_texts: list[str], q_texts: list[str], k1: float = 0.9, b: float = 0.4) -> np.ndarray:
    """BM25 (k1 0.9, b 0.4) with lowercase, English stopwords and Snowball stemming (bm25s + PyStemmer)."""
    import bm25s
    import Stemmer
    stemmer = Stemmer.Stemmer("english")
    ctok = bm25s.tokenize(doc_texts, stopwords="en", stemmer=stemmer, show_progress=False)
    retr = bm25s.BM25(k1=k1, b=b, method="lucene")
    retr.index(ctok, show_progress=False)
    out = np.zeros((len(q_texts), len(doc_texts)), dtype=np.float32)
    vocab = ctok.vocab
    for i, q in enumerate(q_texts):
        qt = bm25s.tokenize([q], stopwords="en", stemmer=stemmer, show_progress=False, return_ids=False)[0]
        qids = [vocab[t] for t in qt if t in vocab]
        if qids:
            out[i] = retr.get_scores(qids) if hasattr(retr, "get_scores") else 0
    return out


def prune(ind: np.ndarray, val: np.ndarray, top_k: int | None = None, min_weight: float = 0.0, mass: float = 1.0):
    """The manifest's pruning (same as export.prune): drop zero padding, keep top_k, drop below min_weight,
    keep mass share."""
    keep = val > 0
    ind, val = ind[keep], val[keep]
    o = np.argsort(-val, kind="stable")
    ind, val = ind[o], val[o]
    if top_k is not None:
        ind, val = ind[:top_k], val[:top_k]
    keep = val >= min_weight
    ind, val = ind[keep], val[keep]
    if mass < 1.0 and len(val):
        c = np.cumsum(val)
        n = int(np.searchsorted(c, mass * c[-1] - 1e-12) + 1)
        ind, val = ind[:n], val[:n]
    return ind.astype(np.int64), val.astype(np.float32)
