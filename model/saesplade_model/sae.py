"""TopK sparse auto-encoder over backbone token states, and the SAE-SPLADE pooling head.

- pre-encoder bias: pre = (x - b_dec) @ W_enc^T + b_enc
- per token TopK (k = 8), ReLU
- decoder rows unit-norm, initialised as the encoder's transpose; b_dec initialised to the data mean
- AuxK loss on dead latents (k_aux = 2k, coefficient 1/16), computed every few steps only
- The dense [tokens, concepts] pre-activation is computed without autograd; the k selected values are
  recomputed from gathered encoder rows with autograd, so backward costs O(tokens * k * d) instead of
  O(tokens * concepts * d).
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def _adam(params, **kw):
    """Adam, fused (one kernel over all parameters; 16k x 384 matrices make the default loop slow on CPU)."""
    try:
        return torch.optim.Adam(params, fused=True, **kw)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, **kw)


class exact_select:
    """with exact_select(sae): fp32 top-k selection (as the exported graph does), whatever fast_select says."""

    def __init__(self, sae):
        self.sae = sae

    def __enter__(self):
        self.old = self.sae.fast_select
        self.sae.fast_select = False

    def __exit__(self, *a):
        self.sae.fast_select = self.old


def block_topk(pre: torch.Tensor, k: int, nb: int = 128) -> torch.Tensor:
    """Exact top-k indices per row (ties aside), faster than torch.topk over 16k columns on CPU:
    the k blocks with the largest maxima contain every top-k element."""
    N, n = pre.shape
    if n % nb or n // nb < 1 or nb < k:
        return pre.topk(k, dim=1).indices
    w = n // nb
    blocks = pre.view(N, nb, w)
    bi = blocks.amax(2).topk(k, dim=1).indices
    cand = blocks.gather(1, bi.unsqueeze(2).expand(N, k, w)).reshape(N, k * w)
    j = cand.topk(k, dim=1).indices
    return bi.gather(1, j // w) * w + j % w


class TopKSAE(nn.Module):
    def __init__(self, d: int = 384, n: int = 16384, k: int = 8, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        w = torch.randn(n, d, generator=g)
        w = w / w.norm(dim=1, keepdim=True)
        self.k = k
        self.W_dec = nn.Parameter(w.clone())          # [n, d], unit-norm rows
        self.W_enc = nn.Parameter(w.clone())          # [n, d]  (encoder = decoder transpose at init)
        self.b_enc = nn.Parameter(torch.zeros(n))
        self.b_dec = nn.Parameter(torch.zeros(d))
        self.log_scale = nn.Parameter(torch.zeros(()))   # SAE-SPLADE scalar (stage 2)

    @property
    def n(self):
        return self.W_enc.shape[0]

    # training only: select the per-token top-k from a bfloat16 pre-activation (3x faster on CPUs with
    # avx512_bf16; the k kept values are still recomputed in fp32). Evaluation and export use fp32 (False).
    fast_select: bool = False

    def pre(self, x: torch.Tensor) -> torch.Tensor:
        if self.fast_select:
            return ((x - self.b_dec).bfloat16() @ self.W_enc.detach().bfloat16().T).float() + self.b_enc
        return (x - self.b_dec) @ self.W_enc.T + self.b_enc

    def select(self, x: torch.Tensor, k: int | None = None, chunk: int = 4096):
        """Per token top-k concept ids (no grad) and their values (with grad)."""
        k = k or self.k
        # fast_select: candidates = top (k + 8) of a bfloat16 pre-activation, re-ranked by their exact fp32
        # values (so the kept k equal fp32's top k unless bf16 rounding pushes one below rank k + 8)
        kk = k + 8 if self.fast_select else k
        with torch.no_grad():
            idxs = []
            for a in range(0, x.shape[0], chunk):
                idxs.append(block_topk(self.pre(x[a:a + chunk]), kk))
            idx = torch.cat(idxs) if idxs else torch.zeros(0, kk, dtype=torch.long)
            if kk > k:
                v32 = torch.einsum("nd,nkd->nk", x - self.b_dec, self.W_enc[idx]) + self.b_enc[idx]
                idx = idx.gather(1, v32.topk(k, dim=1).indices)
        val = torch.einsum("nd,nkd->nk", x - self.b_dec, self.W_enc[idx]) + self.b_enc[idx]
        return idx, val

    def decode(self, idx, val):
        return torch.einsum("nk,nkd->nd", val, self.W_dec[idx]) + self.b_dec

    @torch.no_grad()
    def normalise_decoder(self):
        self.W_dec.data /= self.W_dec.data.norm(dim=1, keepdim=True).clamp(min=1e-8)

    # ---- SAE-SPLADE pooling -------------------------------------------------------------
    def token_weights(self, x: torch.Tensor):
        idx, val = self.select(x)
        w = torch.log1p(F.relu(val)) * self.log_scale.exp()
        return idx, w

    def pool(self, x: torch.Tensor, seg: torch.Tensor, n_seg: int, keep: torch.Tensor | None = None):
        """x [N, d] token states, seg [N] text id per token, keep [N] bool (poolable tokens).
        Returns dense pooled weights [n_seg, n] = max over tokens of scale*log1p(relu(topk act))."""
        if keep is not None:
            x, seg = x[keep], seg[keep]
        idx, w = self.token_weights(x)
        flat = (seg.unsqueeze(1) * self.n + idx).reshape(-1)
        out = torch.zeros(n_seg * self.n, dtype=w.dtype)
        out = out.scatter_reduce(0, flat, w.reshape(-1), reduce="amax", include_self=True)
        return out.view(n_seg, self.n)


def train_stage1(sae: TopKSAE, states: np.ndarray, steps: int, batch: int = 4096, lr: float = 1e-3,
                 aux_every: int = 4, dead_tokens: int = 300_000, seed: int = 0, log_every: int = 25,
                 fast_select: bool = True, checkpoint=None, checkpoint_every: int = 0):
    """Reconstruction training on cached token states (float16 [N, d])."""
    rng = np.random.default_rng(seed)
    X = states
    n_tok = X.shape[0]
    with torch.no_grad():
        sample = torch.from_numpy(X[rng.choice(n_tok, min(n_tok, 50_000), replace=False)].astype(np.float32))
        sae.b_dec.data = sample.mean(0)
        var_total = ((sample - sample.mean(0)) ** 2).sum(1).mean().item()
    params = [sae.W_enc, sae.b_enc, sae.b_dec, sae.W_dec]
    opt = _adam(params, lr=lr, betas=(0.9, 0.999))
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps)))))
    last_fired = torch.zeros(sae.n, dtype=torch.long)
    sae.fast_select = fast_select
    seen = 0
    log = []
    t0 = time.time()
    for step in range(steps):
        xb = torch.from_numpy(X[rng.integers(0, n_tok, batch)].astype(np.float32))
        idx, val = sae.select(xb)
        val = F.relu(val)
        xh = sae.decode(idx, val)
        mse = ((xh - xb) ** 2).sum(1).mean()
        loss = mse / var_total
        seen += batch
        with torch.no_grad():
            fired = torch.zeros(sae.n, dtype=torch.bool)
            fired[idx[val > 0]] = True
            last_fired[fired] = seen
            dead = (seen - last_fired) > dead_tokens
        aux = torch.zeros(())
        n_dead = int(dead.sum())
        if aux_every and step % aux_every == 0 and n_dead > 0 and seen > dead_tokens:
            dead_ids = dead.nonzero().squeeze(1)
            k_aux = min(2 * sae.k, n_dead)
            with torch.no_grad():
                pre_d = (xb - sae.b_dec) @ sae.W_enc[dead_ids].T + sae.b_enc[dead_ids]
                a_idx = dead_ids[pre_d.topk(k_aux, dim=1).indices]
            a_val = F.relu(torch.einsum("nd,nkd->nk", xb - sae.b_dec, sae.W_enc[a_idx]) + sae.b_enc[a_idx])
            resid = (xb - xh).detach()
            e_hat = torch.einsum("nk,nkd->nd", a_val, sae.W_dec[a_idx])
            aux = ((e_hat - resid) ** 2).sum(1).mean() / ((resid - resid.mean(0)) ** 2).sum(1).mean().clamp(min=1e-8)
            aux = torch.nan_to_num(aux, 0.0)
            loss = loss + aux / 16
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        sae.normalise_decoder()
        if step % log_every == 0 or step == steps - 1:
            fve = 1 - mse.item() / var_total
            rec = dict(step=step, fve=round(fve, 4), aux=round(float(aux), 4), dead=n_dead,
                       s_per_step=round((time.time() - t0) / (step + 1), 3))
            log.append(rec)
            print(f"  stage1 {rec}", flush=True)
        if checkpoint is not None and checkpoint_every and (step + 1) % checkpoint_every == 0:
            checkpoint(sae, step + 1)
    sae.fast_select = False
    return log


@torch.no_grad()
def evaluate_sae(sae: TopKSAE, states: np.ndarray, n: int = 50_000, seed: int = 1):
    sae.fast_select = False
    rng = np.random.default_rng(seed)
    X = torch.from_numpy(states[rng.choice(states.shape[0], min(n, states.shape[0]), replace=False)].astype(np.float32))
    sse, fired = 0.0, torch.zeros(sae.n, dtype=torch.bool)
    for a in range(0, X.shape[0], 4096):
        xb = X[a:a + 4096]
        idx, val = sae.select(xb)
        val = F.relu(val)
        sse += ((sae.decode(idx, val) - xb) ** 2).sum().item()
        fired[idx[val > 0]] = True
    var = ((X - X.mean(0)) ** 2).sum().item()
    return dict(fve=1 - sse / var, dead=int((~fired).sum()), tokens=int(X.shape[0]))
