"""Backbone token states and dense embeddings of texts, from the base package's own graph (torch-free).

The dense embedding is the teacher's (all-MiniLM-L6-v2 as sentence-transformers uses it): the mean of the
last hidden states over the attention mask, L2-normalised. Only poolable tokens' states are kept (the
head never sees the others), at most `keep_tokens` per text, in float16."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..runtime import has_content


@dataclass
class States:
    states: np.ndarray    # float16 [T, d]: poolable tokens, text after text
    offsets: np.ndarray   # int64 [n + 1]
    emb: np.ndarray       # float32 [n, d]

    def save(self, path: Path):
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, states=self.states, offsets=self.offsets, emb=self.emb)
        tmp.replace(path)

    @staticmethod
    def load(path: Path) -> "States":
        z = np.load(path)
        return States(z["states"], z["offsets"], z["emb"])

    def rows(self, rows) -> tuple[np.ndarray, np.ndarray]:
        """The tokens of the given texts, as float32 [N, d], and the position of each in `rows`."""
        xs, segs = [], []
        for s, r in enumerate(rows):
            a, b = self.offsets[r], self.offsets[r + 1]
            xs.append(self.states[a:b])
            segs.append(np.full(b - a, s, np.int64))
        if not xs:
            return np.zeros((0, self.states.shape[1]), np.float32), np.zeros(0, np.int64)
        return np.concatenate(xs).astype(np.float32), np.concatenate(segs)


def encode_states(session, tokenizer_path: Path, texts: list[str], max_length: int, poolable: np.ndarray,
                  keep_tokens: int, reporter=None, stage: str = "encode", batch_tokens: int = 4096, max_batch: int = 32) -> States:
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(tokenizer_path))
    tok.no_padding()
    tok.enable_truncation(max_length)
    seqs = [tok.encode(t).ids if has_content(t) else [] for t in texts]
    order = np.argsort([len(s) for s in seqs], kind="stable")
    n = len(texts)
    emb = np.zeros((n, 384), np.float32)
    kept: list[np.ndarray | None] = [None] * n
    if reporter:
        reporter.start(stage, n, "texts")
    done, i = 0, 0
    while i < n:
        L = max(1, len(seqs[order[min(n - 1, i)]]))
        j = i
        while j < n and j - i < max_batch and (j - i + 1) * max(L, len(seqs[order[j]])) <= batch_tokens:
            L = max(L, len(seqs[order[j]]))
            j += 1
        j = max(j, i + 1)
        batch = [seqs[k] for k in order[i:j]]
        T = max(1, max(len(s) for s in batch))
        ids = np.zeros((len(batch), T), np.int64)
        mask = np.zeros((len(batch), T), np.int64)
        for r, s in enumerate(batch):
            ids[r, :len(s)] = s
            mask[r, :len(s)] = 1
        H = session.run(["hidden"], {"input_ids": ids, "attention_mask": mask})[0] if any(batch) else \
            np.zeros((len(batch), T, 384), np.float32)
        for r, k in enumerate(order[i:j]):
            s = batch[r]
            if not s:
                kept[k] = np.zeros((0, 384), np.float16)
                continue
            h = H[r, :len(s)]
            e = h.mean(0)
            emb[k] = e / max(1e-12, float(np.linalg.norm(e)))
            p = poolable[np.asarray(s)]
            p[keep_tokens:] = False
            kept[k] = h[p].astype(np.float16)
        done += j - i
        i = j
        if reporter:
            reporter.progress(done)
    if reporter:
        reporter.done()
    offsets = np.zeros(n + 1, np.int64)
    offsets[1:] = np.cumsum([len(x) for x in kept])
    return States(np.concatenate(kept) if n else np.zeros((0, 384), np.float16), offsets, emb)

