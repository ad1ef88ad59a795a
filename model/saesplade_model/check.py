"""Check a model package with onnxruntime: manifest vs graph, golden vectors, batch 1 vs batch 3."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def check(pkg: Path) -> int:
    from tokenizers import Tokenizer
    from .runtime import has_content, ort_session, prune
    m = json.loads((pkg / "manifest.json").read_text())
    assert m["format"] == "sae-splade-model/1", m["format"]
    errors = 0
    for mode in ("document", "query"):
        g = m["graphs"].get(mode, m["graphs"]["document"])
        sess = ort_session(pkg / g["file"])
        ins = {i.name: i for i in sess.get_inputs()}
        outs = {o.name: o for o in sess.get_outputs()}
        assert set(ins) == {g["inputs"]["input_ids"], g["inputs"]["attention_mask"]}, ins
        assert g["inputs"]["token_type_ids"] is None
        for i in ins.values():
            assert i.type == "tensor(int64)" and len(i.shape) == 2 and all(isinstance(s, str) for s in i.shape), i
        assert g["output"]["kind"] == "topk"
        oi, ov = outs[g["output"]["indices"]], outs[g["output"]["values"]]
        assert oi.type == "tensor(int64)" and ov.type == "tensor(float)", (oi, ov)
        tok = Tokenizer.from_file(str(pkg / m["tokenizer"]))
        tok.no_padding()
        ml = m["max_length"][mode]
        tok.enable_truncation(ml)
        texts = ["a short one", "", "A much longer text about heart disease and cardiac arrest in older patients, "
                 "with several clauses; it keeps going. " * 12]

        def run(batch):
            seqs = [e.ids for e in tok.encode_batch(batch)]
            L = max(len(s) for s in seqs)
            ids = np.zeros((len(seqs), L), np.int64)
            mask = np.zeros_like(ids)
            for r, s in enumerate(seqs):
                ids[r, :len(s)] = s
                mask[r, :len(s)] = 1
            ind, val = sess.run([oi.name, ov.name], {ins[g["inputs"]["input_ids"]].name: ids,
                                                     ins[g["inputs"]["attention_mask"]].name: mask})
            assert ind.shape == (len(batch), g["output"]["k"]) and val.shape == ind.shape
            return ind, val, L
        singles = [run([t]) for t in texts]
        bi, bv, L = run(texts)
        print(f"  {mode}: batch 3 padded to {L} tokens; single lengths {[s[2] for s in singles]}")
        for r, (si, sv, _) in enumerate(singles):
            a = dict(zip(*prune(si[0], sv[0])))
            b = dict(zip(*prune(bi[r], bv[r])))
            keys = set(a) | set(b)
            diff = max([abs(a.get(k, 0) - b.get(k, 0)) for k in keys] or [0])
            print(f"    text {r}: {len(a)} non-zeros alone, {len(b)} in batch, max |diff| {diff:.2e}")
            if diff > 1e-3:
                errors += 1
        # "" never reaches the graph: the runtime gives text without a letter or digit the empty vector
        # (runtime.has_content); a vocabulary graph would pool [CLS]/[SEP] into weights, a concept graph does not
        assert not has_content(texts[1])
    # golden
    gold = json.loads((pkg / m["golden"]).read_text())
    tol = gold["tolerance"]["abs"]
    sess = ort_session(pkg / m["graphs"]["document"]["file"])
    for c in gold["cases"]:
        mode = c["mode"]
        tok = Tokenizer.from_file(str(pkg / m["tokenizer"]))
        tok.no_padding()
        tok.enable_truncation(m["max_length"][mode])
        if has_content(c["text"]):
            ids = np.array([tok.encode(c["text"]).ids], np.int64)
            ind, val = sess.run(["indices", "values"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})
            p = m["pruning"][mode]
            i2, v2 = prune(ind[0], val[0], p["top_k"], p["min_weight"], p["mass"])
        else:
            i2, v2 = np.zeros(0, np.int64), np.zeros(0, np.float32)
        a = dict(zip(c["indices"], c["values"]))
        b = dict(zip(i2.tolist(), v2.tolist()))
        diff = max([abs(a.get(k, 0) - b.get(k, 0)) for k in set(a) | set(b)] or [0])
        ok = diff <= tol
        errors += not ok
        print(f"  golden {mode:8s} nnz {len(a):3d} max|diff| {diff:.1e} {'ok' if ok else 'FAIL'}  {c['text'][:50]!r}")
    labels = json.loads((pkg / m["concepts"]).read_text())["labels"]
    assert len(labels) == m["dictionary_size"], len(labels)
    size = sum(f.stat().st_size for f in pkg.iterdir()) / 1e6
    print(f"  package {pkg}: {size:.1f} MB, version {m['version']}, errors {errors}")
    return errors


if __name__ == "__main__":
    sys.exit(1 if check(Path(sys.argv[1] if len(sys.argv) > 1 else "models/default")) else 0)
