"""Evaluation over the four collections and REPORT.md / PROVENANCE.md rendering."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from .backbone import encode_cache
from .common import DOC_MAX_LEN, EVAL_COLLECTIONS, QUERY_MAX_LEN, TRAIN_COLLECTIONS, poolable_table
from .data import load_corpus, load_test_queries
from .common import WORK_DIR
from .evaluate import bm25_scores, hybrid, metrics, sparse_scores, sparse_stats, to_csr
from .package import PRUNING

DOC_K = PRUNING["document"]["top_k"]
Q_K = PRUNING["query"]["top_k"]


@torch.no_grad()
def torch_vectors(sae, cache, top_k, chunk=128, exact=False):
    """exact=False (default): per-token top-(k+8) candidates from a bfloat16 pre-activation, re-ranked by their
    fp32 values (sae.select); the build checks that this keeps the same top-8 sets as fp32 (build_info
    'select_check'). exact=True: fp32 pre-activation over all concepts."""
    poolable = poolable_table()
    chunk = min(chunk, getattr(sae, "pool_chunk", chunk))   # a dense vocabulary head pools fewer texts at a time
    from .stage2 import gather_tokens
    from .sae import exact_select
    if not exact:
        old = sae.fast_select
        sae.fast_select = True
        try:
            return _torch_vectors(sae, cache, top_k, chunk, poolable, gather_tokens)
        finally:
            sae.fast_select = old
    with exact_select(sae):
        return _torch_vectors(sae, cache, top_k, chunk, poolable, gather_tokens)


def _torch_vectors(sae, cache, top_k, chunk, poolable, gather_tokens):
    from .evaluate import prune
    out = []
    for a in range(0, len(cache), chunk):
        rows = np.arange(a, min(len(cache), a + chunk))
        x, seg, keep = gather_tokens(cache, rows, 10_000, poolable)
        P = sae.pool(x, seg, len(rows), keep)
        v, i = P.topk(min(top_k, P.shape[1]), dim=1)
        for r in range(len(rows)):
            out.append(prune(i[r].numpy(), v[r].numpy(), top_k))
    return out


def _score(name, qv, dv, qids, dids, qrels, extra=None, keep_scores=None):
    Q, D = to_csr(qv), to_csr(dv)
    S = sparse_scores(Q, D)
    r = metrics(S, qids, dids, qrels)
    r.update(sparse_stats(Q, D))
    if extra:
        r.update(extra)
    if keep_scores is not None:
        keep_scores.append(S)
    return r


def run_eval(sae, caches, model, torch_on=EVAL_COLLECTIONS):
    torch_on = tuple(torch_on)
    """BM25 on all four; dense teacher and the torch fp32 model where a backbone cache exists."""
    res: dict = {}
    for n in EVAL_COLLECTIONS:
        t0 = time.time()
        dids, dtexts = load_corpus(n)
        qids, qtexts, qrels = load_test_queries(n)
        r = res.setdefault(n, {})
        B = bm25_scores(dtexts, qtexts)
        r["bm25"] = metrics(B, qids, dids, qrels)
        np.save(WORK_DIR / f"scores_bm25_{n}.npy", B)
        print(f"  eval {n}: bm25 {r['bm25']['ndcg10']:.3f}", flush=True)
        if n not in caches:
            continue
        qe = encode_cache(qtexts, DOC_MAX_LEN, model=model, keep_states=False).emb
        Tm = qe @ caches[n].emb.T
        r["teacher"] = metrics(Tm, qids, dids, qrels)
        r["hybrid_teacher_bm25"] = metrics(hybrid(Tm, B), qids, dids, qrels)
        print(f"  eval {n}: teacher {r['teacher']['ndcg10']:.3f}, dense+BM25 hybrid "
              f"{r['hybrid_teacher_bm25']['ndcg10']:.3f}", flush=True)
        if n in torch_on:
            qc = encode_cache(qtexts, QUERY_MAX_LEN, model=model)
            t = time.time()
            dv = torch_vectors(sae, caches[n], DOC_K)
            qv = torch_vectors(sae, qc, Q_K)
            keep = []
            r["sae_fp32_torch"] = _score(n, qv, dv, qids, dids, qrels, {"doc_encode_s": time.time() - t}, keep)
            r["hybrid_sae_fp32_bm25"] = metrics(hybrid(keep[0], B), qids, dids, qrels)
            print(f"  eval {n}: sae fp32 (torch) {r['sae_fp32_torch']['ndcg10']:.3f} "
                  f"nnz_d {r['sae_fp32_torch']['nnz_d']:.0f}, concepts+BM25 hybrid "
                  f"{r['hybrid_sae_fp32_bm25']['ndcg10']:.3f}", flush=True)
        r["time_s"] = time.time() - t0
    return res


def onnx_eval(enc, dtexts, qtexts, qids, dids, qrels, keep_scores=None):
    t = time.time()
    dv = enc.encode(dtexts, DOC_MAX_LEN, batch=8, top_k=DOC_K, progress=True)
    dt = time.time() - t
    qv = enc.encode(qtexts, QUERY_MAX_LEN, batch=8, top_k=Q_K)
    return _score("", qv, dv, qids, dids, qrels, {"docs_per_s": len(dtexts) / dt, "doc_encode_s": dt},
                  keep_scores)


def _f(x):
    return f"{x:.3f}"


def render_report(info) -> str:
    if str(info.get("version", "1")).startswith("2"):
        from .report2 import render
        return render(info)
    from .report_text import render
    return render(info)


def provenance(info, args) -> str:
    from .report_text import render_provenance
    return render_provenance(info, args)
