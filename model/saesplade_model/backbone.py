"""Run the frozen backbone once and cache last-layer token states (fp16, ragged) plus the
dense teacher embedding (mean pooling + L2 normalisation, as sentence-transformers does)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .common import load_backbone, load_tokenizer
from .runtime import pad_batch  # noqa: F401  (torch-free; export.py imports it from here)


@dataclass
class Cache:
    states: np.ndarray    # float16 [N_tokens, 384] last hidden layer, all tokens incl. [CLS]/[SEP]
    ids: np.ndarray       # int32 [N_tokens]
    offsets: np.ndarray   # int64 [n_texts + 1]
    emb: np.ndarray       # float32 [n_texts, 384] teacher embedding (normalised)

    def __len__(self):
        return len(self.offsets) - 1

    def save(self, path: Path):
        np.savez(path, states=self.states, ids=self.ids, offsets=self.offsets, emb=self.emb)

    def subset(self, rows) -> "Cache":
        """The cache of texts `rows` (in that order)."""
        lens = self.offsets[rows + 1] - self.offsets[rows]
        offs = np.zeros(len(rows) + 1, dtype=np.int64)
        offs[1:] = np.cumsum(lens)
        sel = np.concatenate([np.arange(self.offsets[r], self.offsets[r + 1]) for r in rows])
        return Cache(self.states[sel], self.ids[sel], offs, self.emb[rows])

    @staticmethod
    def load(path: Path) -> "Cache":
        z = np.load(path)
        return Cache(z["states"], z["ids"], z["offsets"], z["emb"])


def tokenize(texts: list[str], max_length: int) -> list[list[int]]:
    tok = load_tokenizer(max_length)
    return [e.ids for e in tok.encode_batch(texts)]


@torch.no_grad()
def encode_cache(texts: list[str], max_length: int, model=None, batch_tokens: int = 4096,
                 keep_states: bool = True, log_every: float = 30.0, max_batch: int = 64) -> Cache:
    model = model or load_backbone()
    seqs = tokenize(texts, max_length)
    lens = np.array([len(s) for s in seqs])
    order = np.argsort(-lens, kind="stable")
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(lens)
    states = np.zeros((offsets[-1] if keep_states else 0, 384), dtype=np.float16)
    ids = np.zeros(offsets[-1], dtype=np.int32)
    emb = np.zeros((len(texts), 384), dtype=np.float32)
    t0 = last = time.time()
    i = 0
    done = 0
    while i < len(order):
        L = lens[order[i]]
        bs = max(1, min(max_batch, batch_tokens // max(L, 1)))
        idx = order[i : i + bs]
        i += bs
        b_ids, b_mask = pad_batch([seqs[j] for j in idx])
        res = model(input_ids=torch.from_numpy(b_ids), attention_mask=torch.from_numpy(b_mask))
        out = res.last_hidden_state   # the teacher embedding is always the last layer's mean
        m = torch.from_numpy(b_mask).unsqueeze(-1).float()
        e = (out * m).sum(1) / m.sum(1).clamp(min=1e-9)
        e = torch.nn.functional.normalize(e, dim=-1)
        emb[idx] = e.numpy()
        # a model may cache other states than the last layer's (last_layer.StatesBefore: the last layer's input)
        o = getattr(res, "states", out).numpy()
        for r, j in enumerate(idx):
            a, b = offsets[j], offsets[j + 1]
            if keep_states:
                states[a:b] = o[r, : b - a]
            ids[a:b] = seqs[j]
        done += len(idx)
        if time.time() - last > log_every:
            last = time.time()
            print(f"  backbone: {done}/{len(texts)} texts, {time.time() - t0:.0f} s", flush=True)
    dt = time.time() - t0
    print(f"  backbone: {len(texts)} texts, {offsets[-1]} tokens (max {max_length}) in {dt:.1f} s "
          f"({len(texts) / max(dt, 1e-9):.1f} texts/s)", flush=True)
    return Cache(states, ids, offsets, emb)
