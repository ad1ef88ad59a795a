"""The SAE-SPLADE head in numpy, forward and backward (what stage 2 trains; torch-free).

Forward, as the graph computes it (export.py, tie_margin.py): pre = (x - b_dec) W_enc^T + b_enc; per token
the top k concepts, their value v gated by clip((v - v_(k+1)) / margin, 0, 1); weight
exp(log_scale) * log1p(relu(v) * gate); a text's vector is the max over its poolable tokens.
Backward goes through the winning token of each (text, concept) only, as max pooling does; the gate is
held constant (it is 1 except within `margin` of a tie)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .graph import Head

BLOCKS = 128


def select(head: Head, X: np.ndarray, chunk: int = 2048):
    """Per token: the top k concept ids, their pre-activations and the (k+1)-th value. X float32 [N, d]."""
    N, k, n = X.shape[0], head.k, head.n
    idx = np.zeros((N, k), np.int64)
    val = np.zeros((N, k), np.float32)
    nxt = np.zeros(N, np.float32)
    W_t = head.W_enc.T
    w = n // BLOCKS
    kk = k + 1
    for a in range(0, N, chunk):
        pre = (X[a:a + chunk] - head.b_dec) @ W_t
        pre += head.b_enc
        m = pre.shape[0]
        blocks = pre.reshape(m, BLOCKS, w)
        # the k+1 largest values lie in the k+1 blocks with the largest maxima
        bi = np.argpartition(-blocks.max(2), kk - 1, axis=1)[:, :kk]
        cand = np.take_along_axis(blocks, bi[:, :, None], 1).reshape(m, kk * w)
        j = np.argpartition(-cand, kk - 1, axis=1)[:, :kk]
        v = np.take_along_axis(cand, j, 1)
        o = np.argsort(-v, axis=1, kind="stable")
        j, v = np.take_along_axis(j, o, 1), np.take_along_axis(v, o, 1)
        ids = np.take_along_axis(bi, j // w, 1) * w + j % w
        idx[a:a + m], val[a:a + m], nxt[a:a + m] = ids[:, :k], v[:, :k], v[:, k]
    return idx, val, nxt


@dataclass
class Pooled:
    P: sp.csr_matrix        # [n_texts, n] pooled weights
    seg: np.ndarray         # winning entries: text row
    c: np.ndarray           # concept
    tok: np.ndarray         # token row (in the X given to encode)
    w: np.ndarray           # weight
    dw_dv: np.ndarray       # d weight / d pre-activation


def encode(head: Head, X: np.ndarray, seg: np.ndarray, n_texts: int) -> Pooled:
    """X [N, d] float32 poolable token states, seg [N] text row of each token."""
    idx, v, nxt = select(head, X)
    gate = np.clip((v - nxt[:, None]) / head.tie_margin, 0, 1) if head.tie_margin > 0 else np.ones_like(v)
    a = np.maximum(v, 0) * gate
    scale = float(np.exp(head.log_scale))
    w = np.log1p(a) * scale
    k = head.k
    seg_e = np.repeat(seg, k)
    tok_e = np.repeat(np.arange(X.shape[0]), k)
    c_e, w_e = idx.ravel(), w.ravel()
    d_e = np.where(a.ravel() > 0, scale * gate.ravel() / (1 + a.ravel()), 0).astype(np.float32)
    live = w_e > 0
    seg_e, tok_e, c_e, w_e, d_e = seg_e[live], tok_e[live], c_e[live], w_e[live], d_e[live]
    key = seg_e * head.n + c_e
    o = np.lexsort((-w_e, key))
    first = np.ones(len(o), bool)
    first[1:] = key[o][1:] != key[o][:-1]
    win = o[first]
    P = sp.csr_matrix((w_e[win], (seg_e[win], c_e[win])), shape=(n_texts, head.n), dtype=np.float32)
    return Pooled(P, seg_e[win], c_e[win], tok_e[win], w_e[win], d_e[win])


@dataclass
class Grads:
    W_enc: np.ndarray
    b_enc: np.ndarray
    b_dec: np.ndarray
    log_scale: float

    def __iadd__(self, o: "Grads"):
        self.W_enc += o.W_enc
        self.b_enc += o.b_enc
        self.b_dec += o.b_dec
        self.log_scale += o.log_scale
        return self


def backward(head: Head, X: np.ndarray, pooled: Pooled, dP: np.ndarray) -> Grads:
    """dP: dense [n_texts, n] gradient of the loss with respect to the pooled weights."""
    g_w = dP[pooled.seg, pooled.c].astype(np.float32)
    g_v = g_w * pooled.dw_dv
    G = sp.csr_matrix((g_v, (pooled.c, pooled.tok)), shape=(head.n, X.shape[0]), dtype=np.float32)
    gW = np.asarray(G @ (X - head.b_dec), dtype=np.float32)
    gb = np.bincount(pooled.c, weights=g_v, minlength=head.n).astype(np.float32)
    return Grads(gW, gb, -(gb @ head.W_enc).astype(np.float32), float(np.dot(g_w, pooled.w)))


class Adam:
    def __init__(self, head: Head, lr: float, lr_scale: float = 1e-2, betas=(0.9, 0.999), eps: float = 1e-8):
        self.lr, self.lr_scale, self.b1, self.b2, self.eps = lr, lr_scale, betas[0], betas[1], eps
        self.t = 0
        self.m = {k: np.zeros_like(getattr(head, k)) for k in ("W_enc", "b_enc", "b_dec")}
        self.v = {k: np.zeros_like(getattr(head, k)) for k in ("W_enc", "b_enc", "b_dec")}
        self.m_s = self.v_s = 0.0

    def step(self, head: Head, g: Grads, mult: float = 1.0):
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        for k in ("W_enc", "b_enc", "b_dec"):
            gk = getattr(g, k)
            m, v = self.m[k], self.v[k]
            m *= self.b1
            m += (1 - self.b1) * gk
            v *= self.b2
            v += (1 - self.b2) * gk * gk
            p = getattr(head, k)
            p -= (self.lr * mult / c1) * m / (np.sqrt(v / c2) + self.eps)
        self.m_s = self.b1 * self.m_s + (1 - self.b1) * g.log_scale
        self.v_s = self.b2 * self.v_s + (1 - self.b2) * g.log_scale ** 2
        head.log_scale -= self.lr_scale * mult / c1 * self.m_s / (np.sqrt(self.v_s / c2) + self.eps)

    def state(self) -> dict:
        return {"t": self.t, "m_s": self.m_s, "v_s": self.v_s,
                **{f"m_{k}": v for k, v in self.m.items()}, **{f"v_{k}": v for k, v in self.v.items()}}

    def load(self, s: dict):
        self.t, self.m_s, self.v_s = int(s["t"]), float(s["m_s"]), float(s["v_s"])
        for k in self.m:
            self.m[k][...] = s[f"m_{k}"]
            self.v[k][...] = s[f"v_{k}"]
