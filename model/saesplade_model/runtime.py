"""onnxruntime as the product runs it (torch-free, so that check.py and drift.py run without torch).

QDQ handling is off (`session.disable_quant_qdq`), as in the TypeScript runtime (src/encoder/session.ts).
With it on, onnxruntime fuses each weight-only DequantizeLinear -> MatMul into an int8 kernel that
quantizes the activations on the fly, with CPU-specific code: the backbone's hidden states then differ by
up to 6e-2 between an AVX2 and an AVX-512 machine (2-4 % of a typical value), enough to swap concepts at
the per-token top-k. With it off, constant folding dequantizes the weights once at load and every MatMul
runs in fp32: the two kinds of CPU agree to about 1e-6 in the hidden states (measured with
`qemu-x86_64 -cpu Haswell`, docs/ENCODER.md), the vectors are what the package was evaluated as (int8
weights, fp32 compute); the other fusions stay on. Cost on a quiet AVX-512 VNNI machine: 0.98x the time
of onnxruntime's default for a short query, 1.11x for a batch of documents (docs/ENCODER.md)."""
from __future__ import annotations

import unicodedata

import numpy as np


def has_content(text: str) -> bool:
    """The runtime's rule (src/encoder/tokenize.ts, `hasContent`): a text without a letter or a digit in any
    script (Unicode general categories L* and N*) encodes to the empty vector, without running the graph.
    The graph's output for such a text (only [CLS] [SEP]) is therefore not part of the contract: a concept
    graph happens to give nothing there, a vocabulary SPLADE graph pools the special tokens and gives weights."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


def pad_batch(seqs: list[list[int]]):
    """Token ids padded with 0 to the longest sequence, and the attention mask (1 on real tokens)."""
    L = max(len(s) for s in seqs)
    ids = np.zeros((len(seqs), L), dtype=np.int64)
    mask = np.zeros((len(seqs), L), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    return ids, mask


LEVELS = ("all", "extended", "basic", "none")


def ort_session(model, threads: int = 2, level: str = "all", qdq: bool = False):
    """The product's session (defaults). `level` / `qdq=True` give onnxruntime's other settings, for
    drift.py's measurements of what they do."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    so.graph_optimization_level = {"all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
                                   "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                                   "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                                   "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL}[level]
    if not qdq:
        so.add_session_config_entry("session.disable_quant_qdq", "1")
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), so,
                                providers=["CPUExecutionProvider"])


def prune(ind: np.ndarray, val: np.ndarray, top_k: int | None = None, min_weight: float = 0.0, mass: float = 1.0,
          max_ratio: float = 0.0):
    """The manifest's pruning, the same rule as the product's (src/encoder/prune.ts, issue 18.1): drop zero
    padding (and non-finite weights), order heaviest first with ties by the lower id, keep top_k (None or 0:
    no limit), drop below min_weight, drop below max_ratio x the heaviest (0: off), keep the shortest prefix
    holding the mass share (at least one). Returned heaviest first. Parity: model/tests/test_prune.py."""
    ind, val = np.asarray(ind), np.asarray(val)
    keep = (val > 0) & np.isfinite(val)
    ind, val = ind[keep], val[keep]
    o = np.lexsort((ind, -val))
    ind, val = ind[o], val[o]
    if top_k:
        ind, val = ind[:top_k], val[:top_k]
    if min_weight > 0:
        keep = val >= min_weight
        ind, val = ind[keep], val[keep]
    if max_ratio > 0 and len(val):
        keep = val >= val[0] * max_ratio
        ind, val = ind[keep], val[keep]
    if mass < 1.0 and len(val):
        c = np.cumsum(val, dtype=np.float64)
        n = int(np.searchsorted(c, mass * c[-1] * (1 - 1e-9)) + 1)
        ind, val = ind[:n], val[:n]
    return ind.astype(np.int64), val.astype(np.float32)
