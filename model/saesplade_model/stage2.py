"""Stage 2: unsupervised ranking fine-tuning of the SAE encoder (+ scalar) on cached backbone states.

Pseudo-queries come from training-collection documents only (title, a random sentence, or a random
word span); the positive is the source document, hard negatives are the dense teacher's neighbours.
Loss: KL(teacher || student) over each query's in-batch candidate list + 0.05 * MSE on the query's own
candidates + FLOPS regulariser (query / document) with a quadratic warm-up.
"""
from __future__ import annotations

import copy
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from .backbone import Cache
from .common import poolable_table
from .data import load_corpus_fields
from .pseudo import _span, pseudo_queries_of  # noqa: F401  (_span: re-exported)

def pseudo_queries(name: str, per_doc: float, rng) -> list[tuple[int, str]]:
    return pseudo_queries_of(load_corpus_fields(name), per_doc, rng)


def teacher_negatives(q_emb: np.ndarray, d_emb: np.ndarray, pos: np.ndarray, depth: int = 30) -> np.ndarray:
    out = np.zeros((len(q_emb), depth), dtype=np.int64)
    D = torch.from_numpy(d_emb)
    for a in range(0, len(q_emb), 2048):
        s = torch.from_numpy(q_emb[a:a + 2048]) @ D.T
        s[torch.arange(s.shape[0]), torch.from_numpy(pos[a:a + 2048])] = -1e9
        out[a:a + 2048] = s.topk(depth, dim=1).indices.numpy()
    return out


def gather_tokens(cache: Cache, rows, max_tokens: int, poolable):
    xs, segs, keeps = [], [], []
    for s, r in enumerate(rows):
        a = cache.offsets[r]
        b = min(cache.offsets[r + 1], a + max_tokens)
        xs.append(cache.states[a:b])
        segs.append(np.full(b - a, s, dtype=np.int64))
        keeps.append(poolable[cache.ids[a:b]])
    return (torch.from_numpy(np.concatenate(xs).astype(np.float32)), torch.from_numpy(np.concatenate(segs)),
            torch.from_numpy(np.concatenate(keeps)))


def minmax_top(S: torch.Tensor, top: int = 100) -> torch.Tensor:
    """Per row: min-max normalisation over the row's top `top` scores, clipped to [0, 1] (a document outside
    the top gets 0), as the reference hybrid (and OpenSearch's min_max normalisation) does."""
    v = S.topk(min(top, S.shape[1]), dim=1).values
    mx, mn = v[:, :1], v[:, -1:]
    return ((S - mn) / (mx - mn).clamp(min=1e-6)).clamp(0, 1)


def fused_teacher(q_emb: np.ndarray, d_emb: np.ndarray, bm25: np.ndarray, w_dense: float = 0.5,
                  top: int = 100, chunk: int = 1024) -> np.ndarray:
    """Label-free fused teacher: w * minmax(dense cosine) + (1 - w) * minmax(stemmed BM25), per query over the
    whole collection. float16 [n_queries, n_docs]."""
    out = np.zeros((len(q_emb), len(d_emb)), dtype=np.float16)
    D = torch.from_numpy(d_emb)
    for a in range(0, len(q_emb), chunk):
        dense = torch.from_numpy(q_emb[a:a + chunk]) @ D.T
        b = torch.from_numpy(bm25[a:a + chunk])
        f = w_dense * minmax_top(dense, top) + (1 - w_dense) * minmax_top(b, top)
        out[a:a + chunk] = f.numpy().astype(np.float16)
    return out


def fused_negatives(fused: np.ndarray, pos: np.ndarray, depth: int = 30) -> np.ndarray:
    out = np.zeros((len(fused), depth), dtype=np.int64)
    for a in range(0, len(fused), 2048):
        s = torch.from_numpy(fused[a:a + 2048].astype(np.float32))
        s[torch.arange(s.shape[0]), torch.from_numpy(pos[a:a + 2048])] = -1e9
        out[a:a + 2048] = s.topk(depth, dim=1).indices.numpy()
    return out


class Stage2Data:
    def __init__(self, names, doc_caches: dict[str, Cache], q_caches: dict[str, Cache],
                 q_pos: dict[str, np.ndarray], negs: dict[str, np.ndarray], train_idx: dict[str, np.ndarray],
                 fused: dict[str, np.ndarray] | None = None, tau_fused: float = 0.1):
        self.names = list(names)
        self.doc, self.q, self.pos, self.negs, self.train_idx = doc_caches, q_caches, q_pos, negs, train_idx
        self.fused, self.tau_fused = fused, tau_fused
        sizes = np.array([len(train_idx[n]) for n in self.names], dtype=np.float64)
        self.p = sizes / sizes.sum()

    def teacher_logits(self, name, qrows, drows, tau: float) -> torch.Tensor:
        """Teacher scores of queries x documents: the fused (dense + BM25) teacher / tau_fused when given,
        else the dense teacher's cosine / tau."""
        if self.fused is not None:
            return torch.from_numpy(self.fused[name][np.asarray(qrows)][:, np.asarray(drows)].astype(np.float32)) \
                / self.tau_fused
        return torch.from_numpy(self.q[name].emb[qrows]) @ torch.from_numpy(self.doc[name].emb[drows]).T / tau


@torch.no_grad()
def dev_eval(sae, dev, poolable, doc_max_tokens=128, tau=0.05, data=None, gather=gather_tokens):
    """dev = list of (name, doc_rows, q_rows, q_target_positions). MRR@10 of the source document among
    a pooled subset of training-collection documents, the teacher-student KL over that pool, and mean
    non-zeros. Source-document MRR rewards copying the query's words (the student beats the teacher
    there from step 0), so checkpoints are chosen on the KL, which is what the training optimises."""
    rr, nq, nd, tq, kl = [], [], [], [], []
    for name, doc_cache, q_cache, drows, qrows, target in dev:
        D = []
        ch = getattr(sae, "pool_chunk", 256)   # a dense vocabulary head pools fewer texts at a time (memory)
        for a in range(0, len(drows), ch):
            x, seg, keep = gather(doc_cache, drows[a:a + ch], doc_max_tokens, poolable)
            D.append(sae.pool(x, seg, len(drows[a:a + ch]), keep))
        x, seg, keep = gather(q_cache, qrows, 10_000, poolable)
        Q = sae.pool(x, seg, len(qrows), keep)
        Dd = torch.cat(D)
        S = Q @ Dd.T
        top = S.topk(10, dim=1).indices
        for i in range(len(qrows)):
            hit = (top[i] == target[i]).nonzero()
            rr.append(1.0 / (hit[0, 0].item() + 1) if len(hit) else 0.0)
        T = data.teacher_logits(name, qrows, drows, tau)
        # the training objective on the dev pool: KL(teacher || student) over the whole pool per query
        kl.append(F.kl_div(F.log_softmax(S, 1), F.log_softmax(T, 1), log_target=True,
                           reduction="none").sum(1))
        ttop = T.topk(10, dim=1).indices
        for i in range(len(qrows)):
            hit = (ttop[i] == target[i]).nonzero()
            tq.append(1.0 / (hit[0, 0].item() + 1) if len(hit) else 0.0)
        nq.append((Q > 0).sum(1).float())
        nd.append((Dd > 0).sum(1).float())
    return dict(mrr10=round(float(np.mean(rr)), 4), teacher_mrr10=round(float(np.mean(tq)), 4),
                kl=round(float(torch.cat(kl).mean()), 4),
                nnz_q=round(float(torch.cat(nq).mean()), 1), nnz_d=round(float(torch.cat(nd).mean()), 1))


def train_stage2(sae, data: Stage2Data, dev, steps: int, batch_q: int = 16, n_neg: int = 3, lr: float = 1e-3,
                 tau: float = 0.05, w_kl: float = 1.0, w_mse: float = 0.05, lam_q: float = 0.006,
                 lam_d: float = 0.004, warmup_frac: float = 0.3, doc_max_tokens: int = 128, eval_every: int = 25,
                 seed: int = 0, log_every: int = 20, time_budget_s: float | None = None, dev_fn=None,
                 dev_every: int | None = None, gather=gather_tokens, extra_groups=()):
    """dev_fn(sae) -> float (higher is better; the mean dev-split nDCG@10 of real queries): when given, it is
    measured every dev_every steps and the checkpoint with the highest value is kept (step 0 included).
    gather(cache, rows, max_tokens, poolable) -> (token states, text id per token, poolable mask) feeds the head
    (default: the cached states as they are; last_layer.py runs a trainable last layer on cached inputs), and
    extra_groups are further optimizer parameter groups ({"params", "lr"}) trained with the head."""
    rng = np.random.default_rng(seed)
    poolable = poolable_table()
    # what stage 2 trains: the SAE encoder (its decoder is stage 1's), or a head's own (vocab_control.VocabHead)
    params = sae.stage2_params() if hasattr(sae, "stage2_params") else [sae.W_enc, sae.b_enc, sae.b_dec]
    from .sae import _adam
    opt = _adam([{"params": params, "lr": lr}, {"params": [sae.log_scale], "lr": 1e-2}, *extra_groups])
    warm_lr = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm_lr) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps)))))
    w_steps = max(1, int(warmup_frac * steps))
    log, evals = [], []
    best = None
    t0 = time.time()
    ev = dev_eval(sae, dev, poolable, doc_max_tokens, tau, data, gather)
    ev.update(step=0, time_s=0.0)
    if dev_fn is not None:
        ev["dev_ndcg10"] = dev_fn(sae)
    evals.append(ev)
    print(f"  stage2 dev {ev}", flush=True)
    best = (ev["kl"], 0, copy.deepcopy(sae.state_dict()))
    sae.fast_select = True
    best_dev = (ev.get("dev_ndcg10", -1.0), 0, copy.deepcopy(sae.state_dict())) if dev_fn is not None else None
    step = 0
    for step in range(1, steps + 1):
        name = data.names[int(rng.choice(len(data.names), p=data.p))]
        dc, qc = data.doc[name], data.q[name]
        qrows = rng.choice(data.train_idx[name], batch_q, replace=False)
        cand = []
        for r in qrows:
            negs = rng.choice(data.negs[name][r], n_neg, replace=False)
            cand.append(np.concatenate([[data.pos[name][r]], negs]))
        cand = np.stack(cand)                                  # [B, 1+n_neg]
        drows, inv = np.unique(cand.ravel(), return_inverse=True)
        inv = torch.from_numpy(inv.reshape(cand.shape))
        xd, segd, keepd = gather(dc, drows, doc_max_tokens, poolable)
        xq, segq, keepq = gather(qc, qrows, 10_000, poolable)
        D = sae.pool(xd, segd, len(drows), keepd)
        Q = sae.pool(xq, segq, len(qrows), keepq)
        S = Q @ D.T                                            # [B, nd]
        with torch.no_grad():
            T = data.teacher_logits(name, qrows, drows, tau)
        kl = F.kl_div(F.log_softmax(S, 1), F.log_softmax(T, 1), log_target=True, reduction="batchmean")
        own_s = S.gather(1, inv)
        own_t = T.gather(1, inv)
        mse = F.mse_loss(own_s, own_t)
        fq = (Q.mean(0) ** 2).sum()
        fd = (D.mean(0) ** 2).sum()
        ramp = min(1.0, step / w_steps) ** 2
        loss = w_kl * kl + w_mse * mse + ramp * (lam_q * fq + lam_d * fd)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % log_every == 0 or step == 1:
            rec = dict(step=step, loss=round(loss.item(), 4), kl=round(kl.item(), 4), mse=round(mse.item(), 3),
                       flops_q=round(fq.item(), 3), flops_d=round(fd.item(), 3), scale=round(sae.log_scale.exp().item(), 3),
                       nnz_q=round((Q > 0).sum(1).float().mean().item(), 1),
                       nnz_d=round((D > 0).sum(1).float().mean().item(), 1),
                       s_per_step=round((time.time() - t0) / step, 2))
            log.append(rec)
            print(f"  stage2 {rec}", flush=True)
        out_of_time = time_budget_s is not None and time.time() - t0 > time_budget_s
        if step % eval_every == 0 or step == steps or out_of_time:
            ev = dev_eval(sae, dev, poolable, doc_max_tokens, tau, data, gather)
            ev.update(step=step, time_s=round(time.time() - t0, 1))
            if dev_fn is not None and (step % (dev_every or eval_every) == 0 or step == steps or out_of_time):
                ev["dev_ndcg10"] = dev_fn(sae)
                if ev["dev_ndcg10"] > best_dev[0]:
                    best_dev = (ev["dev_ndcg10"], step, copy.deepcopy(sae.state_dict()))
            evals.append(ev)
            print(f"  stage2 dev {ev}", flush=True)
            # keep the lowest dev KL once the FLOPS warm-up is over (sparsity at full strength)
            if step >= w_steps and (best[1] < w_steps or ev["kl"] <= best[0]):
                best = (ev["kl"], step, copy.deepcopy(sae.state_dict()))
        if out_of_time:
            print(f"  stage2: time budget reached at step {step}", flush=True)
            break
    sae.fast_select = False
    if best_dev is not None:
        best = (best_dev[0], best_dev[1], best_dev[2])
    config = dict(steps=steps, batch_q=batch_q, n_neg=n_neg, lr=lr, tau=tau, w_kl=w_kl, w_mse=w_mse, lam_q=lam_q,
                  lam_d=lam_d, warmup_frac=warmup_frac, doc_max_tokens=doc_max_tokens, eval_every=eval_every,
                  teacher="fused dense+BM25 / %s" % data.tau_fused if data.fused is not None else f"dense cosine / {tau}",
                  checkpoint="best dev-split nDCG@10" if dev_fn is not None else "lowest dev KL after FLOPS warm-up")
    return dict(log=log, evals=evals, best_step=best[1], best_state=best[2], steps_done=step,
                time_s=time.time() - t0, config=config)
