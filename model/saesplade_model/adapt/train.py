"""Stage 2 on the user's corpus, in numpy (stage2.train_stage2's objective, torch-free):
KL(teacher || student) over each query's in-batch candidates + 0.05 x MSE on its own candidates + the FLOPS
regulariser on queries and documents. Checkpointed every few steps; a run started again resumes there."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..metrics import ndcg_at
from .graph import Head
from .head import Adam, encode, backward
from .states import States
from .teacher import FusedTeacher


@dataclass
class Settings:
    steps: int = 300
    batch_q: int = 16
    n_neg: int = 3
    lr: float = 1e-3
    lr_scale: float = 1e-2
    tau_fused: float = 0.1      # teacher logits = fused score / 0.1 (stage 2 of model 2.0)
    w_mse: float = 0.05
    lam_q: float = 0.006
    lam_d: float = 0.004
    # The base was trained with the FLOPS regulariser already: apply it at full strength from step 1
    # (stage 2 of the default model ramped it in over 30 % of the run, starting from stage 1's SAE).
    warmup_frac: float = 0.0
    eval_every: int = 100
    checkpoint_every: int = 25
    seed: int = 0


@dataclass
class TrainData:
    doc: States
    q: States
    q_pos: np.ndarray            # source document of each pseudo-query
    q_tokens: list               # BM25 tokens of each pseudo-query
    ranges: np.ndarray           # teacher normalisation per query
    negs: np.ndarray             # teacher hard negatives per query
    train: np.ndarray            # training query rows
    held: np.ndarray             # held-back query rows
    pool: np.ndarray             # held-back evaluation pool (document rows)


def _softmax(x):
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def step_loss(head: Head, data: TrainData, teacher: FusedTeacher, qrows: np.ndarray, rng, s: Settings, ramp: float):
    cand = np.stack([np.concatenate([[data.q_pos[r]], rng.choice(data.negs[r], s.n_neg, replace=False)])
                     for r in qrows])
    drows, inv = np.unique(cand.ravel(), return_inverse=True)
    inv = inv.reshape(cand.shape)
    Xd, segd = data.doc.rows(drows)
    Xq, segq = data.q.rows(qrows)
    Pd = encode(head, Xd, segd, len(drows))
    Pq = encode(head, Xq, segq, len(qrows))
    D, Q = Pd.P.toarray(), Pq.P.toarray()
    S = Q @ D.T
    T = teacher.scores(data.q.emb[qrows], [data.q_tokens[r] for r in qrows], data.ranges[qrows], drows) / s.tau_fused
    B = len(qrows)
    pT = _softmax(T)
    logpS = S - S.max(1, keepdims=True)
    logpS -= np.log(np.exp(logpS).sum(1, keepdims=True))
    kl = float((pT * (np.log(np.maximum(pT, 1e-30)) - logpS)).sum() / B)
    dS = (np.exp(logpS) - pT) / B
    own_s = np.take_along_axis(S, inv, 1)
    own_t = np.take_along_axis(T, inv, 1)
    mse = float(((own_s - own_t) ** 2).mean())
    g_own = s.w_mse * 2 * (own_s - own_t) / own_s.size
    np.add.at(dS, (np.repeat(np.arange(B), inv.shape[1]), inv.ravel()), g_own.ravel())
    mq, md = Q.mean(0), D.mean(0)
    fq, fd = float((mq ** 2).sum()), float((md ** 2).sum())
    dQ = dS @ D + ramp * s.lam_q * 2 * mq / B
    dD = dS.T @ Q + ramp * s.lam_d * 2 * md / len(drows)
    g = backward(head, Xq, Pq, dQ)
    g += backward(head, Xd, Pd, dD)
    loss = kl + s.w_mse * mse + ramp * (s.lam_q * fq + s.lam_d * fd)
    return g, dict(loss=round(loss, 4), kl=round(kl, 4), mse=round(mse, 3), flops_q=round(fq, 3),
                   flops_d=round(fd, 3), nnz_q=round(float((Q > 0).sum(1).mean()), 1),
                   nnz_d=round(float((D > 0).sum(1).mean()), 1), scale=round(float(np.exp(head.log_scale)), 3))


def held_back_eval(head: Head, data: TrainData, teacher: FusedTeacher) -> dict:
    """Label-free comparison on the held-back pseudo-queries (never trained on), over a pool of documents
    (each held-back query's source and the teacher's top 10): agreement with the fused teacher (nDCG@10 of
    the student's ranking, the teacher's top 10 in the pool graded by its fused score) and known-item MRR@10
    (the document the query was drawn from)."""
    pool = data.pool
    Xd, segd = data.doc.rows(pool)
    D = encode(head, Xd, segd, len(pool)).P
    Xq, segq = data.q.rows(data.held)
    Q = encode(head, Xq, segq, len(data.held)).P
    S = (Q @ D.T).toarray()
    T = teacher.scores(data.q.emb[data.held], [data.q_tokens[r] for r in data.held], data.ranges[data.held], pool)
    agree, mrr = [], []
    for i, r in enumerate(data.held):
        order = np.lexsort((pool, -S[i]))[:10]
        ranked = [str(pool[j]) for j in order if S[i, j] > 0]
        ttop = np.argsort(-T[i], kind="stable")[:10]
        judged = {str(pool[j]): float(T[i, j]) for j in ttop if T[i, j] > 0}
        agree.append(ndcg_at(ranked, judged, 10))
        src = str(data.q_pos[r])
        mrr.append(next((1.0 / (k + 1) for k, d in enumerate(ranked) if d == src), 0.0))
    return dict(teacher_ndcg10=round(float(np.mean(agree)), 4), known_item_mrr10=round(float(np.mean(mrr)), 4),
                nnz_q=round(float(np.diff(Q.indptr).mean()), 1), nnz_d=round(float(np.diff(D.indptr).mean()), 1),
                queries=len(data.held), pool=len(pool))


def _lr_mult(step: int, steps: int) -> float:
    warm = max(1, steps // 20)
    return min(1.0, step / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / steps))))


def _save(path: Path, head: Head, opt: Adam, step: int, rng, best: dict, log: list, settings: Settings):
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, W_enc=head.W_enc, b_enc=head.b_enc, b_dec=head.b_dec, log_scale=head.log_scale, step=step,
             rng=json.dumps(rng.bit_generator.state), best=json.dumps({k: v for k, v in best.items() if k != "head"}),
             log=json.dumps(log), settings=json.dumps(asdict(settings)),
             **{f"opt_{k}": v for k, v in opt.state().items()},
             **({f"best_{k}": getattr(best["head"], k) for k in ("W_enc", "b_enc", "b_dec", "log_scale")}
                if best.get("head") is not None else {}))
    tmp.replace(path)


def train(head: Head, data: TrainData, teacher: FusedTeacher, s: Settings, ckpt: Path, reporter):
    """Returns (best head, log, evals). The best head is the one with the highest held-back teacher
    agreement, step 0 (the base) included."""
    rng = np.random.default_rng(s.seed)
    opt = Adam(head, s.lr, s.lr_scale)
    start, log, best = 0, [], {}
    if ckpt.exists():
        z = np.load(ckpt, allow_pickle=False)
        if json.loads(str(z["settings"])) == asdict(s):
            head.W_enc[...], head.b_enc[...], head.b_dec[...] = z["W_enc"], z["b_enc"], z["b_dec"]
            head.log_scale = float(z["log_scale"])
            opt.load({k[4:]: z[k] for k in z.files if k.startswith("opt_")})
            rng.bit_generator.state = json.loads(str(z["rng"]))
            start, log, best = int(z["step"]), json.loads(str(z["log"])), json.loads(str(z["best"]))
            if "best_W_enc" in z.files:
                best["head"] = Head(z["best_W_enc"].copy(), z["best_b_enc"].copy(), z["best_b_dec"].copy(),
                                    float(z["best_log_scale"]), head.k, head.tie_margin)
            reporter.log(f"resuming stage 2 from its checkpoint at step {start} of {s.steps}")
        else:
            reporter.log("a checkpoint with other settings was found and is not used")
    evals = best.get("evals", [])
    if start == 0:
        ev = held_back_eval(head, data, teacher)
        ev["step"] = 0
        evals = [ev]
        best = {"step": 0, "teacher_ndcg10": ev["teacher_ndcg10"], "head": head.copy(), "evals": evals}
        reporter.log(f"held-back pseudo-queries, base model: {ev}")
    reporter.start("stage 2", s.steps, "steps")
    reporter.progress(start)
    w_steps = max(1, int(s.warmup_frac * s.steps))
    for step in range(start + 1, s.steps + 1):
        qrows = rng.choice(data.train, s.batch_q, replace=False)
        ramp = min(1.0, step / w_steps) ** 2 if s.warmup_frac > 0 else 1.0
        g, rec = step_loss(head, data, teacher, qrows, rng, s, ramp)
        opt.step(head, g, _lr_mult(step, s.steps))
        rec["step"] = step
        if step % 10 == 0 or step == 1:
            log.append(rec)
        if step % s.eval_every == 0 or step == s.steps:
            ev = held_back_eval(head, data, teacher)
            ev["step"] = step
            evals.append(ev)
            reporter.log(f"held-back pseudo-queries at step {step}: {ev}")
            if ev["teacher_ndcg10"] > best["teacher_ndcg10"]:
                best.update(step=step, teacher_ndcg10=ev["teacher_ndcg10"], head=head.copy())
            best["evals"] = evals
        if step % s.checkpoint_every == 0 or step == s.steps:
            _save(ckpt, head, opt, step, rng, best, log, s)
        reporter.progress(step, kl=rec["kl"], nnz_q=rec["nnz_q"], nnz_d=rec["nnz_d"])
    reporter.done()
    return best["head"], log, evals, best["step"]
