"""Development runs of the 2.0 recipe (the same functions as the build; choices on the dev split only).

    python -m saesplade_model.exp stage1            # stage 1 as the build does it -> work/sae_stage1.pt
    python -m saesplade_model.exp stage2 NAME [key=value ...]   # a stage-2 variant -> work/exp_NAME.json
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch

from .caches import doc_cache, wordnet_cache
from .common import TRAIN_COLLECTIONS, WORK_DIR, load_backbone, set_threads
from . import full
from .sae import TopKSAE, evaluate_sae, train_stage1


def load_caches(m):
    return {n: doc_cache(n, reuse=True, model=m) for n in TRAIN_COLLECTIONS}


def stage1(seed=13, steps=full.STAGE1_STEPS):
    m = load_backbone()
    caches = load_caches(m)
    wn = wordnet_cache(reuse=True, model=m)
    X = full.stage1_states(caches, wn)
    print(f"  stage-1 tokens: {X.shape[0]}", flush=True)
    torch.manual_seed(seed)
    sae = TopKSAE(seed=seed)

    def ck(s, step):
        torch.save(s.state_dict(), WORK_DIR / f"sae_stage1_step{step}.pt")
    t = time.time()
    log = train_stage1(sae, X, steps=steps, batch=full.STAGE1_BATCH, lr=full.STAGE1_LR, seed=seed,
                       dead_tokens=full.STAGE1_DEAD_TOKENS, checkpoint=ck, checkpoint_every=500)
    info = {"steps": steps, "batch_tokens": full.STAGE1_BATCH, "lr": full.STAGE1_LR, "time_s": time.time() - t,
            "log": log, "tokens": int(X.shape[0])}
    torch.save(sae.state_dict(), WORK_DIR / "sae_stage1.pt")
    (WORK_DIR / "stage1.json").write_text(json.dumps(info))
    print("eval", evaluate_sae(sae, X), flush=True)


def stage2(name, **kw):
    m = load_backbone()
    caches = load_caches(m)
    sae = TopKSAE()
    sae.load_state_dict(torch.load(WORK_DIR / kw.pop("stage1", "sae_stage1.pt")))
    dev = full.DevSplit(caches, m)
    teacher = kw.pop("teacher", full.STAGE2_TEACHER)
    if "tau_fused" in kw:
        full.TAU_FUSED = float(kw.pop("tau_fused"))
    data, devslice = full.build_stage2_data(caches, m, 13, teacher=teacher)
    steps = int(kw.pop("steps", full.STAGE2_STEPS))
    fkw = {k: float(v) for k, v in kw.items()}
    from .stage2 import train_stage2
    as_build = bool(fkw.pop("as_build", 0))
    eval_every = int(fkw.pop("eval_every", full.STAGE2_DEV_EVERY))
    r = train_stage2(sae, data, devslice, steps=steps, seed=13, dev_fn=dev.score, dev_every=full.STAGE2_DEV_EVERY,
                     eval_every=eval_every, **fkw)
    sae.load_state_dict(r.pop("best_state"))
    if as_build:   # exactly what the build's stage 2 would write (same code, seed and settings)
        r["n_train_queries"] = {n: int(len(data.train_idx[n])) for n in data.names}
        torch.save(sae.state_dict(), WORK_DIR / "sae_stage2.pt")
        (WORK_DIR / "stage2.json").write_text(json.dumps(r))
    torch.save(sae.state_dict(), WORK_DIR / f"sae_exp_{name}.pt")
    res = {"name": name, "teacher": teacher, "best_step": r["best_step"], "evals": r["evals"], "config": r["config"]}
    for qk in (64, 128):
        mean, per = dev.score(sae, q_k=qk, per_collection=True)
        res[f"dev_q{qk}"] = {"mean": mean, **{n: {k: v for k, v in x.items() if k in ("ndcg10", "nnz_q", "nnz_d")}
                                               for n, x in per.items()}}
    (WORK_DIR / f"exp_{name}.json").write_text(json.dumps(res, indent=1))
    print(json.dumps({k: v for k, v in res.items() if k != "evals"}, indent=1), flush=True)


if __name__ == "__main__":
    set_threads()
    cmd = sys.argv[1]
    if cmd == "stage1":
        stage1(*[int(x) for x in sys.argv[2:]])
    elif cmd == "stage2":
        stage2(sys.argv[2], **dict(a.split("=", 1) for a in sys.argv[3:]))
