"""The inference-free query table of a model package (issue 21): for every token of the vocabulary, the
package's own query graph run on that token alone ([CLS] t [SEP]), its top-k weights kept. At query time the
product then tokenizes the query and max-pools the rows of its tokens (the graph's own pooling), with no
transformer run: the query costs a tokenization and a few table reads, as OpenSearch's doc-only sparse
models do with their token -> weight table. What it loses is context: a token means the same in every query.

    python -m saesplade_model.query_table models/default [--k 16]
        -> models/default/query_table.bin, and "query_table": {"file", "k"} in its manifest.json

File format (little-endian): b"SQT1", uint32 vocab_size, uint32 k, uint32 indices[vocab_size * k],
float32 values[vocab_size * k]; a row's unused slots have value 0. Tokens the graph does not pool (special
tokens, punctuation) have empty rows. Torch-free (onnxruntime, tokenizers)."""
from __future__ import annotations

import argparse
import json
import struct
import time
from pathlib import Path

import numpy as np

from .runtime import ort_session

MAGIC = b"SQT1"
DEFAULT_K = 16


def special_tokens(tokenizer_path: Path) -> tuple[list[int], list[int]]:
    """What the post-processor puts before and after one sequence ([CLS] / [SEP] for BERT)."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(tokenizer_path))
    tok.no_padding()
    tok.no_truncation()
    bare = tok.encode("hello world", add_special_tokens=False).ids
    full = tok.encode("hello world", add_special_tokens=True).ids
    for a in range(len(full) - len(bare) + 1):
        if full[a:a + len(bare)] == bare:
            return full[:a], full[a + len(bare):]
    raise ValueError("tokenizer post-processor does not keep the text tokens contiguous")


def build(pkg: Path, k: int = DEFAULT_K, threads: int = 2, batch: int = 512) -> dict:
    t0 = time.time()
    manifest_file = pkg / "manifest.json"
    m = json.loads(manifest_file.read_text())
    graph = (m["graphs"].get("query") or m["graphs"]["document"])["file"]
    vocab = json.loads((pkg / m["tokenizer"]).read_text())["model"]["vocab"]
    V = max(vocab.values()) + 1
    pre, post = special_tokens(pkg / m["tokenizer"])
    sess = ort_session(pkg / graph, threads)
    indices = np.zeros((V, k), np.uint32)
    values = np.zeros((V, k), np.float32)
    for a in range(0, V, batch):
        ids = np.array([pre + [t] + post for t in range(a, min(V, a + batch))], np.int64)
        ind, val = sess.run(["indices", "values"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})
        for r in range(ids.shape[0]):
            keep = val[r] > 0
            i, v = ind[r][keep], val[r][keep]
            o = np.lexsort((i, -v))[:k]
            indices[a + r, :len(o)] = i[o]
            values[a + r, :len(o)] = v[o]
    out = pkg / "query_table.bin"
    with open(out, "wb") as f:
        f.write(MAGIC + struct.pack("<II", V, k))
        f.write(indices.astype("<u4").tobytes())
        f.write(values.astype("<f4").tobytes())
    m["query_table"] = {"file": out.name, "k": k}
    manifest_file.write_text(json.dumps(m, indent=2) + "\n")
    rows = int((values[:, 0] > 0).sum())
    info = {"vocab": V, "k": k, "rows_with_weights": rows, "mean_nnz": float((values > 0).sum(1).mean()),
            "bytes": out.stat().st_size, "seconds": round(time.time() - t0, 1)}
    print(f"[query_table] {out}: {json.dumps(info)}", flush=True)
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("package", type=Path)
    ap.add_argument("--k", type=int, default=DEFAULT_K, help="weights kept per token (default 16)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    build(a.package, a.k, a.threads)


if __name__ == "__main__":
    main()
