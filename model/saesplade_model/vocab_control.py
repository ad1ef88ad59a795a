"""Same-backbone control (issue 20): all-MiniLM-L6-v2 with a VOCABULARY head instead of the concept head,
trained by the same stage-2 recipe and budget, so that concepts against words is measured without the
difference in backbone size (splade-tiny: 2 x 128 and MS MARCO training; the default: 6 x 384, label-free).

The head. MiniLM ships without an MLM head, so one is made and tied to the input embeddings, as BERT's is:
logits = (W h + b) . E^T + bias_v, with E the backbone's word embeddings (30,522 x 384, frozen), W
initialised to the identity and b to zero (so at step 0 a token state scores each vocabulary token by its
dot product with that token's input embedding), bias_v one scalar per vocabulary token, initialised so that
INIT_ACTIVE of the (token, vocabulary) logits are positive on a sample of training tokens. SPLADE pooling:
max over a text's poolable tokens of scale * log(1 + ReLU(logits)).

The recipe (unchanged from the concept head, saesplade_model.full): stage 2 only (there is no SAE to fit),
200 steps, lr 1e-3, the fused dense + BM25 label-free teacher on pseudo-queries of cisi, cacm and npl
documents, FLOPS terms 0.006 / 0.004, checkpoint by the dev-split nDCG@10 (odd query ids of the training
collections) every 100 steps. Evaluation as REPORT.md's fp32 rows: exact dot products in torch on the cached
backbone states, documents and queries cut to the default package's top 256 / top 64 (equal sparsity
budgets), all judged test queries (even ids on the training collections; SciFact held out and never looked
at before this run). The concept head 2.0.0 is scored by the same code beside it.

    python -m saesplade_model.vocab_control            train + evaluate -> work/vocab_control.{pt,json}
    python -m saesplade_model.vocab_control --package DIR   the trained head as a model package (ONNX:
        MiniLM + the head folded into one 384 x 30,522 matmul, SPLADE max pooling over poolable tokens, top-256
        with the final tie margin, weight-only int8), for `saesplade eval --model DIR` through the product
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .backbone import encode_cache
from .caches import doc_cache
from .common import QUERY_MAX_LEN, TRAIN_COLLECTIONS, WORK_DIR, load_backbone, poolable_table, set_threads
from .data import load_corpus, load_test_queries
from .evaluate import bm25_scores, hybrid, metrics

INIT_ACTIVE = 0.002   # share of positive (token, vocabulary) logits at step 0
EVAL_COLLECTIONS = ("cisi", "cacm", "npl", "scifact")


class VocabHead(nn.Module):
    """A tied MLM-style head over backbone token states, pooled SPLADE-style; the interface of TopKSAE that
    stage 2 and the evaluation use (pool, stage2_params, log_scale, fast_select)."""

    fast_select: bool = False   # read and set by the shared training code; no top-k selection here
    pool_chunk = 24             # texts pooled at once: [tokens, 30,522] dense activations (memory)

    def __init__(self, embeddings: torch.Tensor):
        super().__init__()
        V, d = embeddings.shape
        self.register_buffer("E", embeddings.detach().clone().float())
        self.W = nn.Parameter(torch.eye(d))
        self.b = nn.Parameter(torch.zeros(d))
        self.bias_v = nn.Parameter(torch.zeros(V))
        self.log_scale = nn.Parameter(torch.zeros(()))

    @property
    def n(self):
        return self.E.shape[0]

    def stage2_params(self):
        return [self.W, self.b, self.bias_v]

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return (x @ self.W.T + self.b) @ self.E.T + self.bias_v

    @torch.no_grad()
    def init_bias(self, x: torch.Tensor, active: float = INIT_ACTIVE):
        """One scalar offset so that `active` of the logits over the sample x are positive."""
        L = self.logits(x)
        q = torch.quantile(L.flatten()[torch.randperm(L.numel())[:2_000_000]], 1 - active)
        self.bias_v.data -= q

    token_chunk = 2048          # tokens whose [tokens, 30,522] activations are alive at once

    def _pool_part(self, x: torch.Tensor, seg: torch.Tensor, n_seg: int) -> torch.Tensor:
        w = torch.log1p(F.relu(self.logits(x))) * self.log_scale.exp()
        out = torch.zeros(n_seg, self.n, dtype=w.dtype)
        return out.scatter_reduce(0, seg.unsqueeze(1).expand(-1, self.n), w, reduce="amax", include_self=True)

    def pool(self, x: torch.Tensor, seg: torch.Tensor, n_seg: int, keep: torch.Tensor | None = None):
        """Max over each text's tokens, in chunks of tokens (recomputed in backward: torch.utils.checkpoint),
        so that memory holds one chunk's dense activations instead of the batch's (8k tokens x 30,522 x 4 B
        is 1 GB a tensor). The result is the same max."""
        from torch.utils.checkpoint import checkpoint
        if keep is not None:
            x, seg = x[keep], seg[keep]
        out = None
        for a in range(0, max(1, x.shape[0]), self.token_chunk):
            xa, sa = x[a:a + self.token_chunk], seg[a:a + self.token_chunk]
            part = checkpoint(self._pool_part, xa, sa, n_seg, use_reentrant=False) if torch.is_grad_enabled() else \
                self._pool_part(xa, sa, n_seg)
            out = part if out is None else torch.maximum(out, part)
        return out


def main(steps: int = 200):
    from .full import STAGE2_DEV_EVERY, STAGE2_LR, DevSplit, build_stage2_data
    from .report import DOC_K, Q_K, _score, torch_vectors
    from .sae import TopKSAE
    from .stage2 import gather_tokens, train_stage2
    set_threads()
    t0 = time.time()
    m = load_backbone()
    caches = {n: doc_cache(n, reuse=True, model=m) for n in EVAL_COLLECTIONS}
    head = VocabHead(m.embeddings.word_embeddings.weight)
    rng = np.random.default_rng(0)
    rows = rng.choice(len(caches["cisi"]), 64, replace=False)
    x, _, keep = gather_tokens(caches["cisi"], rows, 128, poolable_table())
    head.init_bias(x[keep])
    dev_split = DevSplit({n: caches[n] for n in TRAIN_COLLECTIONS}, m)
    data, dev = build_stage2_data({n: caches[n] for n in TRAIN_COLLECTIONS}, m, 0)
    r = train_stage2(head, data, dev, steps=steps, lr=STAGE2_LR, seed=0, dev_fn=dev_split.score,
                     dev_every=STAGE2_DEV_EVERY, eval_every=STAGE2_DEV_EVERY)
    head.load_state_dict(r.pop("best_state"))
    torch.save(head.state_dict(), WORK_DIR / "vocab_control.pt")
    train_s = time.time() - t0
    print(f"  vocabulary head trained in {train_s:.0f} s (best step {r['best_step']})", flush=True)

    sae = TopKSAE()
    sae.load_state_dict(torch.load(WORK_DIR / "sae_stage2.pt"))
    out = {"train": {k: v for k, v in r.items() if k != "log"}, "train_s": train_s, "init_active": INIT_ACTIVE,
           "doc_top_k": DOC_K, "query_top_k": Q_K, "collections": {}}
    for n in EVAL_COLLECTIONS:
        t = time.time()
        dids, dtexts = load_corpus(n)
        qids, qtexts, qrels = load_test_queries(n)
        qc = encode_cache(qtexts, QUERY_MAX_LEN, model=m)
        B = bm25_scores(dtexts, qtexts)
        res = {"bm25": metrics(B, qids, dids, qrels)}
        for name, h in (("concepts_2.0.0", sae), ("vocabulary_control", head)):
            keep_s = []
            with torch.no_grad():
                res[name] = _score(n, torch_vectors(h, qc, Q_K), torch_vectors(h, caches[n], DOC_K), qids, dids, qrels,
                                   None, keep_s)
            res[name + "+bm25"] = metrics(hybrid(keep_s[0], B), qids, dids, qrels)
        out["collections"][n] = res
        print(f"  {n}: " + ", ".join(f"{k} {v['ndcg10']:.3f}" for k, v in res.items()) + f" ({time.time() - t:.0f} s)",
              flush=True)
        (WORK_DIR / "vocab_control.json").write_text(json.dumps(out, indent=1, default=float))
    print(json.dumps({n: {k: round(v["ndcg10"], 3) for k, v in c.items()} for n, c in out["collections"].items()}))


NAME = "minilm-vocab-control"
VERSION = "1.0.0"


def export_package(out, head_path=None):
    """The package: the same contract, tokenizer, lengths and pruning as the default concept package; labels =
    the vocabulary's tokens; golden vectors; the package checks."""
    import shutil
    from pathlib import Path

    import onnx

    from .check import check
    from .common import OUT_TOPK, REPO_DIR, backbone_path
    from .export import quantize_weights_only, simplify_graph
    from .golden import write_golden
    from .tie_margin import apply_final_tie_margin
    from .vocab import TIE_MARGIN_OUT

    out = Path(out)
    m = load_backbone()
    head = VocabHead(m.embeddings.word_embeddings.weight)
    head.load_state_dict(torch.load(head_path or WORK_DIR / "vocab_control.pt"))

    class ControlSplade(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = m
            with torch.no_grad():
                # (x W^T + b) E^T + bias = x (W^T E^T) + (b E^T + bias): one matmul per token
                self.M = nn.Parameter((head.W.T @ head.E.T).contiguous(), requires_grad=False)      # [d, V]
                self.c = nn.Parameter(head.b @ head.E.T + head.bias_v, requires_grad=False)        # [V]
                self.scale = nn.Parameter(head.log_scale.exp().clone(), requires_grad=False)
            self.register_buffer("poolable", torch.from_numpy(poolable_table().astype(np.float32)))

        def forward(self, input_ids, attention_mask):
            h = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            w = torch.log1p(F.relu(torch.matmul(h, self.M) + self.c)) * self.scale
            w = w * (self.poolable[input_ids] * attention_mask.to(w.dtype)).unsqueeze(-1)
            values, indices = torch.topk(w.max(dim=1).values, OUT_TOPK, dim=1)
            return indices, values

    work = WORK_DIR / "vocab_control"
    work.mkdir(parents=True, exist_ok=True)
    fp32, w8 = work / "model_fp32.onnx", work / "model_w8.onnx"
    enc = ControlSplade().eval()
    ids = torch.tensor([[101, 7592, 2088, 2003, 1037, 3231, 102], [101, 7592, 102, 0, 0, 0, 0]], dtype=torch.long)
    with torch.no_grad():
        torch.onnx.export(enc, (ids, (ids != 0).long()), str(fp32), dynamo=False, opset_version=18,
                          input_names=["input_ids", "attention_mask"], output_names=["indices", "values"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                        "indices": {0: "batch"}, "values": {0: "batch"}}, do_constant_folding=True)
    g = onnx.load(str(fp32))
    simplify_graph(g, out_k=OUT_TOPK)
    apply_final_tie_margin(g, TIE_MARGIN_OUT)
    onnx.checker.check_model(g)
    onnx.save(g, str(fp32))
    quantize_weights_only(fp32, w8)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(w8, out / "document.onnx")
    shutil.copyfile(backbone_path() / "tokenizer.json", out / "tokenizer.json")
    default = json.loads((REPO_DIR / "models" / "default" / "manifest.json").read_text())
    graph = {"file": "document.onnx", "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask", "token_type_ids": None},
             "output": {"kind": "topk", "indices": "indices", "values": "values", "k": OUT_TOPK}}
    vocab = json.loads((backbone_path() / "tokenizer.json").read_text())["model"]["vocab"]
    labels = [""] * (max(vocab.values()) + 1)
    for t, i in vocab.items():
        labels[i] = t
    manifest = {
        "format": "sae-splade-model/1", "name": NAME, "version": VERSION, "dictionary_size": len(labels),
        "dictionary": "vocabulary", "tokenizer": "tokenizer.json", "max_length": default["max_length"],
        "graphs": {"document": graph, "query": dict(graph)}, "activation": "log1p_relu", "pooling": "max",
        "pruning": default["pruning"], "concepts": "concepts.json", "golden": "golden.json", "license": "Apache-2.0",
        "backbone": default["backbone"] + " + a vocabulary head tied to its input embeddings (saesplade_model.vocab_control)",
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (out / "concepts.json").write_text(json.dumps({"labels": labels}, ensure_ascii=False) + "\n")
    write_golden(out)
    errors = check(out)
    print(f"[vocab_control] {out}: {errors} check errors", flush=True)
    return errors


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--package":
        raise SystemExit(1 if export_package(sys.argv[2]) else 0)
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
