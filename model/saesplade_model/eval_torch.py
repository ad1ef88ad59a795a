"""Torch evaluation of the built stage-2 head on cached backbone states, for collections the build's own run
skipped (time): python -m saesplade_model.eval_torch scifact[,cisi,...] -> work/eval_torch_<name>.json"""
from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch

from .backbone import encode_cache
from .caches import doc_cache
from .common import QUERY_MAX_LEN, WORK_DIR, load_backbone, set_threads
from .data import load_corpus, load_test_queries
from .evaluate import bm25_scores, hybrid, metrics
from .report import DOC_K, Q_K, _score, torch_vectors
from .sae import TopKSAE


def main(names):
    set_threads()
    m = load_backbone()
    sae = TopKSAE()
    sae.load_state_dict(torch.load(WORK_DIR / "sae_stage2.pt"))
    for n in names:
        t = time.time()
        c = doc_cache(n, reuse=True, model=m)
        dids, dtexts = load_corpus(n)
        qids, qtexts, qrels = load_test_queries(n)
        qc = encode_cache(qtexts, QUERY_MAX_LEN, model=m)
        keep = []
        r = {"sae_fp32_torch": _score(n, torch_vectors(sae, qc, Q_K), torch_vectors(sae, c, DOC_K), qids, dids, qrels,
                                      {"doc_encode_s": time.time() - t}, keep)}
        pb = WORK_DIR / f"scores_bm25_{n}.npy"
        B = np.load(pb) if pb.exists() else bm25_scores(dtexts, qtexts)
        r["hybrid_sae_fp32_bm25"] = metrics(hybrid(keep[0], B), qids, dids, qrels)
        np.save(WORK_DIR / f"scores_sae_fp32_torch_{n}.npy", keep[0])
        (WORK_DIR / f"eval_torch_{n}.json").write_text(json.dumps(r, indent=1))
        print(n, json.dumps({k: v["ndcg10"] for k, v in r.items()}), f"{time.time() - t:.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1].split(","))
