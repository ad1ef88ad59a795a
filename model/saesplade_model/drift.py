"""Cross-machine drift of the encoder, and what it does to retrieval (issue 14; docs/ENCODER.md).

The shipped graph is cut before its concept head (the last backbone layer's token states become an
extra output), the states of a collection are cached once, and the head is then applied in numpy with
and without a tie margin and with deliberate noise on the states. Needs onnx, onnxruntime, numpy,
scipy and tokenizers only (no torch), so it also runs under `qemu-x86_64 -cpu Haswell`, which makes
onnxruntime pick its AVX2 kernels on an AVX-512 machine: a real second kind of CPU on one machine.

  python -m saesplade_model.drift golden  --package ../models/default           # encode golden texts, print drift
  python -m saesplade_model.drift states  --package ../models/default --collection cisi
  python -m saesplade_model.drift speed                                          # basic vs all, one run
  python -m saesplade_model.drift sweep   --collections cisi,cacm,npl --margins 0,0.05,0.1,0.2 --split dev
  python -m saesplade_model.drift cross   --collections cisi,cacm,npl --margins 0,0.02 \
      --doc-states work/drift/all-avx512 --noise 1e-6,1e-2      # documents from another machine / noise

Only the dev split (odd query ids, see data_split.py) may be used for choosing the margin; the sweep
reports dev and test apart."""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from .adapt.graph import hidden_name as head_input_name  # the one finder of the head's input
from .runtime import ort_session, pad_batch

WORK = Path(__file__).resolve().parent.parent / "work" / "drift"
DATASETS = Path(os.environ.get("SAESPLADE_DATASETS", "/work/shared/datasets"))


# ---- the graph ---------------------------------------------------------------------------------

def states_graph(src: Path) -> bytes:
    import onnx
    m = onnx.load(str(src))
    name = head_input_name(m)
    m.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    return m.SerializeToString()


def head_params(src: Path) -> dict:
    """The head's weights as the graph holds them (int8 weights dequantized exactly as DequantizeLinear does)."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(str(src))
    t = {x.name: numpy_helper.to_array(x) for x in m.graph.initializer}
    if "W_enc_t_q" in t:
        W = t["W_enc_t_q"].astype(np.float32) * t["W_enc_t_scale"][None, :]
    else:
        W = t["W_enc_t"].astype(np.float32)
    k = out_k = None
    for n in m.graph.node:
        if n.op_type == "Constant" and n.output[0] == "/Constant_output_0":
            k = int(numpy_helper.to_array(n.attribute[0].t).reshape(-1)[0])
        if n.op_type == "Constant" and n.output[0] == "/Constant_7_output_0":
            out_k = int(numpy_helper.to_array(n.attribute[0].t).reshape(-1)[0])
    return dict(W=W, b_enc=t["b_enc"].astype(np.float32), b_dec=t["b_dec"].astype(np.float32),
                scale=float(t["scale"]), poolable=t["poolable"].astype(bool), k=k or 8, out_k=out_k or 256)


def session(model_bytes_or_path, threads: int = 2):
    """The product's session settings (runtime.py); SAESPLADE_ORT_OPT=all|extended|basic|none sets the
    optimisation level with QDQ handling on (onnxruntime's default), to show the drift it causes."""
    opt = os.environ.get("SAESPLADE_ORT_OPT")
    return ort_session(model_bytes_or_path, threads, level=opt, qdq=True) if opt else ort_session(model_bytes_or_path, threads)


def tokenizer(pkg: Path, max_length: int | None):
    """The package's tokenizer, no padding, truncated to max_length tokens (None: not truncated)."""
    from tokenizers import Tokenizer
    man = json.loads((pkg / "manifest.json").read_text())
    tok = Tokenizer.from_file(str(pkg / man["tokenizer"]))
    tok.no_padding()
    if max_length is None:
        tok.no_truncation()
    else:
        tok.enable_truncation(max_length)
    return tok


def encode_states(sess, out_name: str, seqs: list[list[int]], batch: int = 8, progress: str = ""):
    """Token states per text (fp32 [len, d]), texts batched by length."""
    order = np.argsort([-len(s) for s in seqs], kind="stable")
    res: list = [None] * len(seqs)
    t0 = last = time.time()
    for a in range(0, len(order), batch):
        idx = order[a:a + batch]
        ids, mask = pad_batch([seqs[j] for j in idx])
        (h,) = sess.run([out_name], {"input_ids": ids, "attention_mask": mask})
        for r, j in enumerate(idx):
            res[j] = h[r, :len(seqs[j])].astype(np.float32)
        if progress and time.time() - last > 30:
            last = time.time()
            print(f"  {progress}: {a + len(idx)}/{len(seqs)} texts in {time.time() - t0:.0f} s", flush=True)
    return res


# ---- the head in numpy ---------------------------------------------------------------------------

def gate(gap: np.ndarray, margin: float) -> np.ndarray:
    return np.ones_like(gap) if margin <= 0 else np.clip(gap / margin, 0.0, 1.0)


def token_topk(states: list[np.ndarray], p: dict, noise: float = 0.0, seed: int = 0, chunk: int = 4096):
    """Per token, the k + 1 largest pre-activations (sorted) and their concept ids, over all texts' tokens;
    `noise` multiplies the states by (1 + noise * N(0, 1)), a deliberate second machine."""
    rng = np.random.default_rng(seed)
    k = p["k"]
    X = np.concatenate(states) if states else np.zeros((0, p["W"].shape[0]), np.float32)
    if noise:
        X = X * (1 + noise * rng.standard_normal(X.shape).astype(np.float32))
    I = np.zeros((len(X), k + 1), np.int64)
    V = np.zeros((len(X), k + 1), np.float32)
    for a in range(0, len(X), chunk):
        pre = (X[a:a + chunk] - p["b_dec"]) @ p["W"] + p["b_enc"]
        part = np.argpartition(-pre, k, axis=1)[:, :k + 1]
        pv = np.take_along_axis(pre, part, 1)
        o = np.argsort(-pv, axis=1, kind="stable")
        I[a:a + chunk], V[a:a + chunk] = np.take_along_axis(part, o, 1), np.take_along_axis(pv, o, 1)
    return I, V


def pool(tk, states_len: list[int], ids: list, p: dict, margin: float, out_margin: float):
    """The rest of the head as the graph computes it: gate, log1p(relu) * scale, poolable mask, max pooling
    per text, final top out_k with its gate."""
    I, V = tk
    k, n = p["k"], p["W"].shape[1]
    offs = np.cumsum([0] + list(states_len))
    tok = np.concatenate([np.asarray(s, np.int64) for s in ids]) if len(ids) else np.zeros(0, np.int64)
    g = gate(V[:, :k] - V[:, k:k + 1], margin)
    Wt = np.log1p(np.maximum(V[:, :k], 0) * g) * p["scale"] * p["poolable"][tok][:, None]
    It = I[:, :k]
    out = []
    for t in range(len(states_len)):
        a, b = offs[t], offs[t + 1]
        dense = np.zeros(n, np.float32)
        np.maximum.at(dense, It[a:b].reshape(-1), Wt[a:b].reshape(-1))
        top = np.argsort(-dense, kind="stable")[:p["out_k"] + 1]
        v = dense[top]
        v = v[:-1] * gate(v[:-1] - v[-1], out_margin)
        top = top[:-1]
        keep = v > 0
        out.append((top[keep], v[keep]))
    return out


def head(states, ids, p, margin, out_margin, noise=0.0, seed=0):
    return pool(token_topk(states, p, noise, seed), [len(s) for s in states], ids, p, margin, out_margin)


def prune_topk(vec, top_k: int | None):
    ind, val = vec
    o = np.argsort(-val, kind="stable")
    if top_k:
        o = o[:top_k]
    return ind[o], val[o]


# ---- collections, splits, metrics -----------------------------------------------------------------

def load_collection(name: str):
    corpus, queries = [], {}
    with open(DATASETS / name / "corpus.jsonl") as f:
        for line in f:
            d = json.loads(line)
            title, text = (d.get("title") or "").strip(), (d.get("text") or "").strip()
            corpus.append((str(d["_id"]), (title + " " + text).strip() if title else text))
    with open(DATASETS / name / "queries.jsonl") as f:
        for line in f:
            d = json.loads(line)
            queries[str(d["_id"])] = d["text"]
    qrels: dict = {}
    with open(DATASETS / name / "qrels" / "test.tsv") as f:
        next(f)
        for line in f:
            q, c, s = line.rstrip("\n").split("\t")
            if int(s) > 0:
                qrels.setdefault(q, {})[c] = int(s)
    return corpus, {q: t for q, t in queries.items() if q in qrels}, qrels


def in_split(qid: str, split: str) -> bool:
    """dev = odd numeric query ids, test = even (the declared split of issue 15; SciFact is never split)."""
    if split == "all":
        return True
    odd = int(qid) % 2 == 1
    return odd if split == "dev" else not odd


def ranked_metrics(S: np.ndarray, qids: list[str], doc_ids: list[str], qrels: dict,
                   splits=("all", "dev", "test")) -> dict:
    """nDCG@10, MRR@10 and R@100 (4 decimals) per split of a score matrix S [queries, documents], each query
    ranking its top 100 documents with a positive score (what a rank_feature search returns)."""
    from .metrics import evaluate_run
    run = {}
    for r, q in enumerate(qids):
        top = np.argsort(-S[r], kind="stable")[:100]
        run[q] = [doc_ids[d] for d in top if S[r, d] > 0]
    out = {}
    for split in splits:
        m = evaluate_run(run, {q: qrels[q] for q in qids if in_split(q, split)})
        out[split] = {k: round(v, 4) for k, v in m.items() if k != "queries"}
    return out


def ndcg10(scores: np.ndarray, doc_ids: list[str], rel: dict) -> float:
    top = np.argsort(-scores, kind="stable")[:10]
    dcg = sum(rel.get(doc_ids[d], 0) / np.log2(r + 2) for r, d in enumerate(top) if scores[d] > 0)
    ideal = sorted(rel.values(), reverse=True)[:10]
    idcg = sum(g / np.log2(r + 2) for r, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def to_csr(vecs, n: int):
    from scipy.sparse import csr_matrix
    indptr = np.cumsum([0] + [len(v[0]) for v in vecs])
    ind = np.concatenate([v[0] for v in vecs]) if vecs else np.zeros(0, np.int64)
    val = np.concatenate([v[1] for v in vecs]) if vecs else np.zeros(0, np.float32)
    return csr_matrix((val, ind, indptr), shape=(len(vecs), n))


def retrieval(doc_vecs, q_vecs, doc_ids, qids, qrels, split: str, n: int, q_top_k: int | None) -> float:
    D = to_csr(doc_vecs, n)
    sel = [i for i, q in enumerate(qids) if in_split(q, split)]
    Q = to_csr([prune_topk(q_vecs[i], q_top_k) for i in sel], n)
    S = (Q @ D.T).toarray()
    return float(np.mean([ndcg10(S[r], doc_ids, qrels[qids[i]]) for r, i in enumerate(sel)]))


def cosine(a, b) -> float:
    da, db = dict(zip(a[0].tolist(), a[1].tolist())), dict(zip(b[0].tolist(), b[1].tolist()))
    dot = sum(v * db.get(k, 0.0) for k, v in da.items())
    na, nb = np.sqrt(sum(v * v for v in da.values())), np.sqrt(sum(v * v for v in db.values()))
    return dot / (na * nb) if na and nb else float(na == nb)


# ---- commands --------------------------------------------------------------------------------------

def cmd_states(a):
    pkg = Path(a.package)
    man = json.loads((pkg / "manifest.json").read_text())
    graph = pkg / man["graphs"]["document"]["file"]
    import onnx
    out_name = head_input_name(onnx.load(str(graph), load_external_data=False))
    sess = session(states_graph(graph), a.threads)
    WORK.mkdir(parents=True, exist_ok=True)
    for name in a.collection.split(","):
        corpus, queries, _ = load_collection(name)
        for mode, texts, ml in (("doc", [t for _, t in corpus], man["max_length"]["document"]),
                                ("query", list(queries.values()), man["max_length"]["query"])):
            seqs = [e.ids for e in tokenizer(pkg, ml).encode_batch(texts)]
            t0 = time.time()
            st = encode_states(sess, out_name, seqs, progress=f"{name} {mode}")
            np.savez(WORK / f"{name}.{mode}.npz", states=np.concatenate(st).astype(np.float16),
                     ids=np.concatenate([np.asarray(s, np.int32) for s in seqs]),
                     offsets=np.cumsum([0] + [len(s) for s in seqs]))
            print(f"{name} {mode}: {len(seqs)} texts, {sum(map(len, seqs))} tokens in {time.time() - t0:.0f} s", flush=True)


def load_states(name: str, mode: str, where: Path = WORK):
    z = np.load(where / f"{name}.{mode}.npz")
    st, ids, off = z["states"].astype(np.float32), z["ids"], z["offsets"]
    return [st[off[i]:off[i + 1]] for i in range(len(off) - 1)], [ids[off[i]:off[i + 1]] for i in range(len(off) - 1)]


def cmd_sweep(a):
    p = head_params(Path(a.package) / "document.onnx")
    man = json.loads((Path(a.package) / "manifest.json").read_text())
    qk = man["pruning"]["query"]["top_k"]
    rows = []
    for name in a.collections.split(","):
        corpus, queries, qrels = load_collection(name)
        ds, di = load_states(name, "doc")
        qs, qi = load_states(name, "query")
        doc_ids, qids = [c for c, _ in corpus], list(queries)
        dt, qt = token_topk(ds, p), token_topk(qs, p)
        for m in [float(x) for x in a.margins.split(",")]:
            om = m if a.out_margin is None else a.out_margin
            dv = pool(dt, [len(x) for x in ds], di, p, m, om)
            qv = pool(qt, [len(x) for x in qs], qi, p, m, om)
            r = dict(collection=name, margin=m, out_margin=om,
                     nnz_doc=float(np.mean([len(v[0]) for v in dv])),
                     **{s: round(retrieval(dv, qv, doc_ids, qids, qrels, s, p["W"].shape[1], qk), 4) for s in ("dev", "test")})
            rows.append(r)
            print(json.dumps(r), flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(rows, indent=1) + "\n")


def cmd_cross(a):
    """Documents encoded on one machine/setting (--doc-states: states cached there), queries on this one
    (the default cache), against both from this one; optionally with noise instead (--noise)."""
    p = head_params(Path(a.package) / "document.onnx")
    man = json.loads((Path(a.package) / "manifest.json").read_text())
    qk = man["pruning"]["query"]["top_k"]
    n = p["W"].shape[1]
    rows = []
    for name in a.collections.split(","):
        corpus, queries, qrels = load_collection(name)
        ds, di = load_states(name, "doc")
        qs, qi = load_states(name, "query")
        doc_ids, qids = [c for c, _ in corpus], list(queries)
        others = {}
        if a.doc_states:
            others[a.doc_states] = token_topk(load_states(name, "doc", Path(a.doc_states))[0], p)
        for eps in [float(x) for x in a.noise.split(",")] if a.noise else []:
            others[f"noise {eps:g}"] = token_topk(ds, p, noise=eps, seed=1)
        dt, qt = token_topk(ds, p), token_topk(qs, p)
        lens, qlens = [len(x) for x in ds], [len(x) for x in qs]
        for m in [float(x) for x in a.margins.split(",")]:
            clean_d, clean_q = pool(dt, lens, di, p, m, m), pool(qt, qlens, qi, p, m, m)
            base = {s_: retrieval(clean_d, clean_q, doc_ids, qids, qrels, s_, n, qk) for s_ in ("dev", "test")}
            for label, tk in others.items():
                od = pool(tk, lens, di, p, m, m)
                cos = np.array([cosine(x, y) for x, y in zip(clean_d, od)])
                diff = [max([abs(dict(zip(*x)).get(k_, 0) - dict(zip(*y)).get(k_, 0)) for k_ in set(x[0].tolist()) | set(y[0].tolist())] or [0])
                        for x, y in zip(clean_d, od)]
                r = dict(collection=name, margin=m, docs_from=label,
                         **{f"{s_}_same": round(base[s_], 4) for s_ in ("dev", "test")},
                         **{f"{s_}_cross": round(retrieval(od, clean_q, doc_ids, qids, qrels, s_, n, qk), 4) for s_ in ("dev", "test")},
                         doc_cos_min=round(float(cos.min()), 4), doc_cos_median=round(float(np.median(cos)), 5),
                         doc_maxdiff_median=round(float(np.median(diff)), 5), doc_maxdiff_max=round(float(np.max(diff)), 4))
                rows.append(r)
                print(json.dumps(r), flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(rows, indent=1) + "\n")


def cmd_speed(a):
    """Forward-pass time of the package's graph with the product's session settings (runtime.py: all
    fusions, QDQ handling off) and with onnxruntime's defaults at the `all` and `basic` levels, alternated
    in one run (ratio to `all`, so machines of different speed compare)."""
    pkg = Path(a.package)
    graph = pkg / json.loads((pkg / "manifest.json").read_text())["graphs"]["document"]["file"]
    sess = {"product (all, QDQ off)": ort_session(graph, a.threads),
            "all (QDQ on)": ort_session(graph, a.threads, level="all", qdq=True),
            "basic (QDQ on)": ort_session(graph, a.threads, level="basic", qdq=True)}
    rng = np.random.default_rng(0)
    ids = rng.integers(2000, 20000, (a.batch, a.tokens)).astype(np.int64)
    ids[:, 0], ids[:, -1] = 101, 102
    feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    times = {k: [] for k in sess}
    for rep in range(a.repeats + 1):
        for k, s_ in sess.items():
            t0 = time.perf_counter()
            s_.run(None, feed)
            if rep:
                times[k].append(time.perf_counter() - t0)
    base = float(np.median(times["all (QDQ on)"]))
    for k, t in times.items():
        print(json.dumps(dict(setting=k, batch=a.batch, tokens=a.tokens, threads=a.threads,
                              median_s=round(float(np.median(t)), 4), ratio_to_all=round(float(np.median(t)) / base, 3))))


def cmd_golden(a):
    """Encode the golden texts with the package's graph on this CPU; write them for comparison."""
    pkg = Path(a.package)
    man = json.loads((pkg / "manifest.json").read_text())
    gold = json.loads((pkg / man["golden"]).read_text())
    graph = pkg / man["graphs"]["document"]["file"]
    import onnx
    out_name = head_input_name(onnx.load(str(graph), load_external_data=False))
    sess = session(states_graph(graph), a.threads)
    res = []
    for c in gold["cases"]:
        seq = tokenizer(pkg, man["max_length"][c["mode"]]).encode(c["text"]).ids
        ids = np.array([seq], np.int64)
        ind, val, h = sess.run(["indices", "values", out_name], {"input_ids": ids, "attention_mask": np.ones_like(ids)})
        keep = val[0] > 0
        res.append(dict(mode=c["mode"], indices=ind[0][keep].tolist(), values=val[0][keep].tolist(),
                        states=h[0].tolist()))
    Path(a.out).write_text(json.dumps(res) + "\n")
    print(f"wrote {len(res)} cases to {a.out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("states")
    s.add_argument("--package", default="../models/default")
    s.add_argument("--collection", required=True)
    s.add_argument("--threads", type=int, default=2)
    s.set_defaults(f=cmd_states)
    s = sub.add_parser("sweep")
    s.add_argument("--package", default="../models/default")
    s.add_argument("--collections", default="cisi,cacm,npl")
    s.add_argument("--margins", default="0,0.05,0.1,0.2")
    s.add_argument("--out-margin", type=float, default=None)
    s.add_argument("--out")
    s.set_defaults(f=cmd_sweep)
    s = sub.add_parser("cross")
    s.add_argument("--package", default="../models/default")
    s.add_argument("--collections", default="cisi,cacm,npl")
    s.add_argument("--margins", default="0,0.02")
    s.add_argument("--doc-states", help="directory of states cached on another machine or setting")
    s.add_argument("--noise", default="", help="relative noise levels, e.g. 1e-6,1e-2")
    s.add_argument("--out")
    s.set_defaults(f=cmd_cross)
    s = sub.add_parser("speed")
    s.add_argument("--package", default="../models/default")
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--batch", type=int, default=8)
    s.add_argument("--tokens", type=int, default=256)
    s.add_argument("--repeats", type=int, default=5)
    s.set_defaults(f=cmd_speed)
    s = sub.add_parser("golden")
    s.add_argument("--package", default="../models/default")
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--out", required=True)
    s.set_defaults(f=cmd_golden)
    a = ap.parse_args()
    a.f(a)


if __name__ == "__main__":
    main()
