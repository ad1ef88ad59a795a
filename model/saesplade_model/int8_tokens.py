"""Int8 compute with one activation scale per token (issue 21.1; models/int8), torch-free.

A concept package stores its weight matrices as int8 with a DequantizeLinear in front of each MatMul, and the
product runs them in fp32 (runtime.py: onnxruntime's own QDQ fusion quantizes activations per batch, with
CPU-specific kernels, and moved vectors between CPU types). This rewrite gives every such MatMul an integer
kernel whose result does not depend on the batch, with an integer product that is exact on every CPU:

    s = max|x_row| / 63                       one scale per token (per row of the last axis)
    q = round(x / s) + 64                     uint8 codes 1..127
    y = MatMulIntegerToFloat(q, W_int8, 1, w_scale, 64) * s

- Per token, not per tensor: a text's vector never depends on its batch mates (quantize_dynamic's
  DynamicQuantizeLinear computes one scale over the whole batch; docs/ENCODER.md).
- 7-bit codes: onnxruntime's u8 x s8 kernels on AVX2 and on AVX-512 without VNNI add pairs of products in
  int16 with saturation (vpmaddubsw); 2 x 127 x 128 = 32,512 fits, so the integer product is exact on every
  x86-64 kernel (AVX2, VNNI, AMX). The vectors still differ between CPU kernel families: the fp32 parts
  before each product differ in their last bits, and rounding to codes magnifies that (docs/ENCODER.md).
- Smoothing (SmoothQuant, `act_max` from calibrate()): x / c and c W per input channel, so that a few
  outlier channels of LayerNorm's output do not set every token's scale. Not on the SAE head.
- GELU's output (>= -0.17) is shifted to be non-negative and coded on 0..127; the shift is taken back after.
- Everything else (attention's own products, LayerNorm, GELU, tie margins, pooling) is untouched; the
  softmax NaN guards, identities here, are dropped (drop_softmax_nan_guards).

    python -m saesplade_model.int8_tokens build models/default --out models/int8 --version 2.0.0-int8 --alpha 0.8 \
        --calibrate ../shared/datasets/npl/corpus.jsonl ../shared/datasets/cisi/corpus.jsonl
    python -m saesplade_model.int8_tokens speed models/default /tmp/int8 --corpus <corpus.jsonl> --limit 96
    python -m saesplade_model.int8_tokens fidelity models/default /tmp/int8 --corpus <corpus.jsonl>
    python -m saesplade_model.int8_tokens ndcg models/default /tmp/int8 --collections cisi,cacm,npl
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

from .adapt.graph import backbone_bytes
from .runtime import ort_session, pad_batch

CALIBRATION_DOCS = 48
ALPHA = 0.8          # chosen on the dev halves of cisi, cacm and npl (docs/ENCODER.md)
ACT_LEVELS = 63      # |q| <= 63 around a zero point of 64: 7-bit, no int16 saturation on any x86 kernel


HEAD_WEIGHT = "W_enc_t"
GELU_SHIFT = 0.17    # GELU(x) = x * Phi(x) >= -0.16997 (at x = -0.7518)


def _is_gelu_output(prod: dict, name: str, depth: int = 4) -> bool:
    """Whether `name` is computed from an Erf within a few nodes: the exported GELU, x * 0.5 * (1 + erf(x / sqrt 2))."""
    n = prod.get(name)
    if n is None or depth == 0:
        return False
    return n.op_type == "Erf" or any(_is_gelu_output(prod, i, depth - 1) for i in n.input if i)


def _producers(g) -> dict:
    return {o: n for n in g.node for o in n.output}


def quantized_matmuls(model) -> list[tuple]:
    """(MatMul node, DequantizeLinear node) for every MatMul whose second input is a 2-D int8 weight
    dequantized per column (or per tensor) with zero point 0: the products this module rewrites."""
    from onnx import TensorProto, numpy_helper
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    prod = _producers(g)
    out = []
    for n in g.node:
        dq = prod.get(n.input[1]) if n.op_type == "MatMul" else None
        if dq is None or dq.op_type != "DequantizeLinear" or dq.input[0] not in inits:
            continue
        w = inits[dq.input[0]]
        zero = numpy_helper.to_array(inits[dq.input[2]]) if len(dq.input) > 2 and dq.input[2] in inits else 0
        axis = next((a.i for a in dq.attribute if a.name == "axis"), 1)
        scale = numpy_helper.to_array(inits[dq.input[1]])
        if (w.data_type == TensorProto.INT8 and len(w.dims) == 2 and not np.any(zero != 0)
                and (scale.ndim == 0 or axis in (1, -1))):
            out.append((n, dq))
    return out


def calibrate(model, feeds: list[dict]) -> dict[str, np.ndarray]:
    """Largest |activation| per input channel of every rewritten product, over the real tokens of `feeds`
    (padding excluded by their attention_mask; a feed without one counts every position), keyed by weight
    name: what the smoothing divides out."""
    import onnx
    from onnx import TensorProto, helper
    m = onnx.ModelProto()
    m.CopyFrom(model)
    pairs = quantized_matmuls(m)
    names = {}
    for n, dq in pairs:
        if n.input[0] not in names:
            m.graph.output.append(helper.make_value_info(n.input[0], onnx.TypeProto()))
            m.graph.output[-1].type.tensor_type.elem_type = TensorProto.FLOAT
        names[n.input[0]] = names.get(n.input[0], []) + [dq.input[0]]
    sess = ort_session(m.SerializeToString())
    xs = list(names)
    amax = {x: None for x in xs}
    # the SAE head (W_enc_t) is not smoothed: adapt rewrites it by name (adapt/graph.py), and on its own in
    # int8 it keeps the vectors at a mean cosine of 0.993 (measured with `fidelity`)
    for f in feeds:
        res = sess.run(xs, f)
        mask = f.get("attention_mask")
        for x, v in zip(xs, res):
            a = np.abs(v[mask.astype(bool)] if mask is not None else v.reshape(-1, v.shape[-1])).max(axis=0)
            amax[x] = a if amax[x] is None else np.maximum(amax[x], a)
    return {w: amax[x] for x, ws in names.items() for w in ws if not w.startswith(HEAD_WEIGHT)}


def rewrite(model, levels: int = ACT_LEVELS, select=None, act_max: dict | None = None, alpha: float = ALPHA,
            unsigned_weights=False):
    """Every MatMul(x, DequantizeLinear(W_int8, scale, 0)) with a 2-D W becomes per-token int8 compute
    (only those whose weight name `select(name, dims)` accepts, when given). With `act_max` (calibrate()),
    each product is smoothed first (SmoothQuant): x / c and c * W with c = act_max^alpha / w_max^(1 - alpha)
    per input channel, the same product in exact arithmetic, but a few outlier channels no longer set every
    token's scale; W is then requantized to int8 per column. `unsigned_weights` (True, or a predicate like
    `select`) stores those weights as uint8 around 128 and codes activations on 8 bits through the u8 x u8
    kernel, which sums in 32 bits (measured: closer to fp32, slower; docs/ENCODER.md). Returns the rewritten
    model and the number of matrices changed."""
    from onnx import helper, numpy_helper
    g = model.graph
    targets = {n.output[0]: dq for n, dq in quantized_matmuls(model)}   # by output name: protobuf wrappers come and go
    inits = {t.name: t for t in g.initializer}
    prod = _producers(g)
    consumers: dict[str, int] = {}
    for n in g.node:
        for i in n.input:
            consumers[i] = consumers.get(i, 0) + 1

    def const(name, value):
        g.initializer.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def array(name):
        return numpy_helper.to_array(next(t for t in g.initializer if t.name == name))

    axes = const("i8tok/axes", np.array([-1], np.int64))
    eps = const("i8tok/eps", np.array(1e-12, np.float32))
    one = const("i8tok/one", np.array(1.0, np.float32))
    zp0 = const("i8tok/zp0", np.array(0, np.uint8))
    codes = {}   # levels -> (symmetric levels, its zero point, levels of a non-negative input)

    def code(levels_):
        if levels_ not in codes:
            codes[levels_] = (const(f"i8tok/levels{levels_}", np.array(float(levels_), np.float32)),
                              const(f"i8tok/zp{levels_}", np.array(levels_ + 1, np.uint8)),
                              const(f"i8tok/levels_pos{levels_}", np.array(float(2 * levels_ + 1), np.float32)))
        return codes[levels_]

    def chosen(pred, w) -> bool:
        return pred is True or (callable(pred) and pred(w.name, list(w.dims)))

    w_zp = []    # the uint8 weights' zero point, made once

    new_nodes, dropped, changed = [], set(), 0
    for n in g.node:
        dq = targets.get(n.output[0]) if n.op_type == "MatMul" else None
        w = inits[dq.input[0]] if dq is not None else None
        if dq is None or (select is not None and not chosen(select, w)):
            new_nodes.append(n)
            continue
        scale = array(dq.input[1]).astype(np.float32)
        p = f"i8tok/{changed}"
        x, y = n.input[0], n.output[0]
        w_int = dq.input[0]
        if act_max is not None and w.name in act_max:
            W = numpy_helper.to_array(w).astype(np.float32) * (scale if scale.ndim else scale.reshape(1))[None, :]
            a_max = np.maximum(act_max[w.name].astype(np.float64), 1e-5)
            w_max = np.maximum(np.abs(W).max(axis=1).astype(np.float64), 1e-5)
            c = (a_max ** alpha / w_max ** (1 - alpha)).astype(np.float32)
            Wc = W * c[:, None]
            scale = np.maximum(np.abs(Wc).max(axis=0), 1e-12).astype(np.float32) / 127
            w_int = const(f"{p}/w_q", np.clip(np.round(Wc / scale[None, :]), -127, 127).astype(np.int8))
            new_nodes.append(helper.make_node("Mul", [x, const(f"{p}/inv_c", (1 / c).astype(np.float32))],
                                              [f"{p}/xsm"]))
            x = f"{p}/xsm"
        # the stored scale tensor when the weights are the stored ones: adapt (adapt/graph.py) reads and
        # rewrites the SAE head's W_enc_t_q / W_enc_t_scale by name, and they keep working here
        ws = dq.input[1] if w_int == dq.input[0] else const(f"{p}/w_scale", scale)
        w_signed = w_int
        unsigned = chosen(unsigned_weights, w)
        # u8 x u8 products are summed in 32 bits on every kernel (no int16 pair sums): 8-bit codes are safe
        lv, zp, lv_pos = code(127 if unsigned else levels)
        if unsigned:
            w_int = const(f"{p}/w_u8", (array(w_signed).astype(np.int16) + 128).astype(np.uint8))
            if not w_zp:
                w_zp.append(const("i8tok/w_zp", np.array(128, np.uint8)))
        b_zp = w_zp if unsigned else []
        if _is_gelu_output(prod, n.input[0]):
            # GELU's output is at least -0.17: shifted by 0.17 it is non-negative and uses all 127 levels of
            # [0, 127] (zero point 0) instead of the 63 either side of a symmetric code; the shift's share of
            # the product is a constant per output, subtracted after.
            W_deq = array(w_signed).astype(np.float32) * (scale if scale.ndim else scale.reshape(1))[None, :]
            shift = np.full(W_deq.shape[0], GELU_SHIFT, np.float32)
            if act_max is not None and w.name in act_max:
                shift = shift / c          # the input was divided by c above
            new_nodes += [
                helper.make_node("Add", [x, const(f"{p}/shift", shift)], [f"{p}/xpos"]),
                helper.make_node("ReduceMax", [f"{p}/xpos", axes], [f"{p}/amax"], keepdims=1),
                helper.make_node("Max", [f"{p}/amax", eps], [f"{p}/amax_eps"]),
                helper.make_node("Div", [f"{p}/amax_eps", lv_pos], [f"{p}/s"]),
                helper.make_node("Div", [f"{p}/xpos", f"{p}/s"], [f"{p}/xs"]),
                helper.make_node("QuantizeLinear", [f"{p}/xs", one, zp0], [f"{p}/q"]),
                helper.make_node("MatMulIntegerToFloat", [f"{p}/q", w_int, one, ws, zp0] + b_zp, [f"{p}/acc"],
                                 domain="com.microsoft"),
                helper.make_node("Mul", [f"{p}/acc", f"{p}/s"], [f"{p}/ys"]),
                helper.make_node("Sub", [f"{p}/ys", const(f"{p}/shift_out", (shift @ W_deq).astype(np.float32))],
                                 [y], name=f"{p}/out"),
            ]
        else:
            # QuantizeLinear with scale 1 rounds half to even and adds the zero point; |x / s| <= levels by
            # construction, so it never saturates. MatMulIntegerToFloat (onnxruntime's contrib op) applies the
            # weight scales inside the integer GEMM's output stage: one pass over the output instead of three.
            new_nodes += [
                helper.make_node("Abs", [x], [f"{p}/abs"]),
                helper.make_node("ReduceMax", [f"{p}/abs", axes], [f"{p}/amax"], keepdims=1),
                helper.make_node("Max", [f"{p}/amax", eps], [f"{p}/amax_eps"]),
                helper.make_node("Div", [f"{p}/amax_eps", lv], [f"{p}/s"]),
                helper.make_node("Div", [x, f"{p}/s"], [f"{p}/xs"]),
                helper.make_node("QuantizeLinear", [f"{p}/xs", one, zp], [f"{p}/q"]),
                helper.make_node("MatMulIntegerToFloat", [f"{p}/q", w_int, one, ws, zp] + b_zp, [f"{p}/acc"],
                                 domain="com.microsoft"),
                helper.make_node("Mul", [f"{p}/acc", f"{p}/s"], [y], name=f"{p}/out"),
            ]
        if consumers.get(dq.output[0], 0) == 1:
            dropped.add(id(dq))
        changed += 1
    del g.node[:]
    g.node.extend(x for x in new_nodes if id(x) not in dropped)
    used = {i for n in g.node for i in n.input}
    keep = [t for t in g.initializer if t.name in used or t.name in {o.name for o in g.output}]
    del g.initializer[:]
    g.initializer.extend(keep)
    if changed and not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return model, changed


def drop_softmax_nan_guards(model) -> int:
    """Where(IsNaN(softmax), 0, softmax) after each attention softmax is the identity here: a row of the
    softmax is NaN only when every key is masked, and the [CLS] key never is. Each guard reads and writes
    the whole [batch, heads, seq, seq] tensor twice; removing it changes no output bit."""
    g = model.graph
    prod = _producers(g)
    rename, drop = {}, set()
    for n in g.node:
        if n.op_type != "Where":
            continue
        isnan = prod.get(n.input[0])
        if (isnan is not None and isnan.op_type == "IsNaN" and isnan.input[0] == n.input[2]
                and prod.get(n.input[2]) is not None and prod[n.input[2]].op_type == "Softmax"):
            rename[n.output[0]] = n.input[2]
            drop.update((id(n), id(isnan)))
    keep = [n for n in g.node if id(n) not in drop]
    for n in keep:
        for i, name in enumerate(n.input):
            if name in rename:
                n.input[i] = rename[name]
    del g.node[:]
    g.node.extend(keep)
    return len(rename)


def build(src: Path, out: Path, version: str, calibration: list[Path], per_corpus: int = CALIBRATION_DOCS,
          alpha: float = ALPHA):
    """A copy of the package `src` whose graph computes per-token int8 (smoothed with activation maxima
    measured on the first `per_corpus` documents of each calibration corpus); new golden vectors and query
    table; the manifest's `compute` record says how."""
    import onnx
    from .golden import write_golden
    from .query_table import build as build_table
    if out.exists():
        raise SystemExit(f"{out} exists: choose another --out")
    texts = [t for c in calibration for t in _texts(c, per_corpus)]
    shutil.copytree(src, out)
    m = json.loads((out / "manifest.json").read_text())
    old = m["version"]
    feeds, _, _ = _batches(out, texts, 8, m["max_length"]["document"])
    for f in {g["file"] for g in m["graphs"].values()}:
        model = onnx.load(str(out / f))
        guards = drop_softmax_nan_guards(model)
        model, changed = rewrite(model, act_max=calibrate(model, feeds), alpha=alpha)
        onnx.save(model, str(out / f))
        print(f"[int8_tokens] {f}: {changed} matrices now per-token int8, {guards} softmax NaN guards dropped", flush=True)
    m["version"] = version
    m["compute"] = {"int8": "per-token", "activation_bits": 7, "smoothing_alpha": alpha,
                    "gelu_shift": GELU_SHIFT, "calibration": [f"{c.parent.name}/{c.name}: first {per_corpus}"
                                                              for c in calibration],
                    "from": f"{m['name']}@{old}", "tool": "python -m saesplade_model.int8_tokens build"}
    (out / "manifest.json").write_text(json.dumps(m, indent=2) + "\n")
    write_golden(out)
    if m.get("query_table"):
        build_table(out, k=m["query_table"]["k"])
    prov = out / "PROVENANCE.md"
    if prov.exists():
        prov.write_text(prov.read_text().rstrip("\n") + f"\n\n{version}: the {old} graph with every int8 weight matrix "
                        f"computed in int8, one activation scale per token (7-bit; smoothing alpha {alpha}, activation "
                        f"maxima from {', '.join(m['compute']['calibration'])}; `python -m saesplade_model.int8_tokens "
                        f"build`); golden vectors and query table remade from it.\n")
    print(f"[int8_tokens] {out}: {old} -> {version}", flush=True)


# ---- measurements ---------------------------------------------------------------------------------

def _graph(pkg: Path) -> Path:
    return pkg / json.loads((pkg / "manifest.json").read_text())["graphs"]["document"]["file"]


def _texts(corpus: Path, limit: int) -> list[str]:
    out = []
    with open(corpus) as f:
        for line in f:
            d = json.loads(line)
            out.append(((d.get("title") or "") + " " + (d.get("text") or "")).strip())
            if len(out) >= limit:
                break
    return out


def _batches(pkg: Path, texts: list[str], batch: int, max_length: int = 256):
    """Feeds of `batch` texts in the runtime's length buckets (longest first), the number of tokens, and the
    order: row r of the concatenated feeds is text order[r]."""
    from .drift import tokenizer
    seqs = [e.ids for e in tokenizer(pkg, max_length).encode_batch(texts)]
    order = np.argsort([-len(s) for s in seqs], kind="stable")
    feeds = []
    for a in range(0, len(order), batch):
        ids, mask = pad_batch([seqs[j] for j in order[a:a + batch]])
        feeds.append({"input_ids": ids, "attention_mask": mask})
    return feeds, sum(len(s) for s in seqs), order


def cmd_speed(a):
    """Documents/s of: the base graph as shipped, the base backbone alone (cut before the concept head), and
    each candidate graph; rounds alternate the order so that load on a shared machine falls on all alike."""
    import onnx
    base = Path(a.base)
    graphs = {"base": ort_session(_graph(base), a.threads),
              "base backbone alone": ort_session(backbone_bytes(onnx.load(str(_graph(base)))), a.threads)}
    for c in a.candidates:
        graphs[Path(c).name] = ort_session(_graph(Path(c)), a.threads)
    feeds, tokens, _ = _batches(base, _texts(Path(a.corpus), a.limit), a.batch)
    for s in graphs.values():                       # warm-up
        s.run(None, feeds[0])
    times = {k: [] for k in graphs}
    names = list(graphs)
    for r in range(a.rounds):
        for k in (names if r % 2 == 0 else names[::-1]):
            t0 = time.perf_counter()
            for f in feeds:
                graphs[k].run(None, f)
            times[k].append(time.perf_counter() - t0)
    n = sum(f["input_ids"].shape[0] for f in feeds)
    ref = float(np.median(times["base backbone alone"]))
    rows = []
    for k, t in times.items():
        med = float(np.median(t))
        rows.append(dict(graph=k, docs=n, tokens=tokens, batch=a.batch, threads=a.threads, rounds=a.rounds,
                         median_s=round(med, 3), docs_per_s=round(n / med, 2),
                         ratio_to_backbone_alone=round(ref / med, 3)))
        print(json.dumps(rows[-1]), flush=True)
    return rows


def cmd_fidelity(a):
    """Vectors of a candidate against the base on the same texts (batch 1 and batch 8 for the candidate):
    cosine, top-k overlap, and whether the candidate is batch-invariant."""
    base, cand = Path(a.base), Path(a.candidate)
    texts = _texts(Path(a.corpus), a.limit)
    sb, sc = ort_session(_graph(base), a.threads), ort_session(_graph(cand), a.threads)

    def vecs(sess, feeds):
        out = []
        for f in feeds:
            ind, val = sess.run(["indices", "values"], f)
            for r in range(ind.shape[0]):
                v = {}
                for i, x in zip(ind[r], val[r]):
                    if x > 0:
                        v[int(i)] = float(x)
                out.append(v)
        return out

    f1, _, _ = _batches(base, texts, 1)
    f8, _, _ = _batches(base, texts, 8)
    # _batches sorts by length; batch 1 and 8 use the same stable order, so rows line up.
    vb, vc1, vc8 = vecs(sb, f1), vecs(sc, f1), vecs(sc, f8)

    def cos(x, y):
        dot = sum(w * y.get(i, 0.0) for i, w in x.items())
        nx, ny = np.sqrt(sum(w * w for w in x.values())), np.sqrt(sum(w * w for w in y.values()))
        return dot / (nx * ny) if nx and ny else float(nx == ny)

    c = np.array([cos(x, y) for x, y in zip(vb, vc1)])
    ov = np.array([len(set(x) & set(y)) / max(1, len(x)) for x, y in zip(vb, vc1)])
    bi = max(max((abs(x.get(i, 0) - y.get(i, 0)) for i in set(x) | set(y)), default=0.0) for x, y in zip(vc1, vc8))
    res = dict(texts=len(texts), cosine_mean=round(float(c.mean()), 5), cosine_min=round(float(c.min()), 5),
               concept_overlap_mean=round(float(ov.mean()), 4), batch1_vs_batch8_max_abs_diff=float(bi))
    print(json.dumps(res), flush=True)
    return res


def cmd_ndcg(a):
    """nDCG@10, MRR@10 and R@100 by exact dot products (what OpenSearch's rank_feature sum computes) of each
    graph on each collection, with the package's pruning, on all judged queries and on the dev / test halves."""
    from .drift import load_collection, prune_topk, ranked_metrics, to_csr
    base = Path(a.graphs[0])
    m = json.loads((base / "manifest.json").read_text())
    n, dk, qk = m["dictionary_size"], m["pruning"]["document"]["top_k"], m["pruning"]["query"]["top_k"]
    out = []
    for name in a.collections.split(","):
        corpus, queries, qrels = load_collection(name)
        qids = list(queries)
        # tokenized once per collection; each graph runs the same feeds
        doc_feeds = _batches(base, [t for _, t in corpus], 8, m["max_length"]["document"])
        query_feeds = _batches(base, [queries[q] for q in qids], 8, m["max_length"]["query"])
        for g in a.graphs:
            t0 = time.time()
            sess = ort_session(_graph(Path(g)), a.threads)

            def enc(batches):
                feeds, _, order = batches
                res = [None] * len(order)
                rows = (row for f in feeds for row in zip(*sess.run(["indices", "values"], f)))
                for (ind, val), j in zip(rows, order):
                    keep = val > 0
                    res[j] = (ind[keep], val[keep])
                return res
            dv = [prune_topk(v, dk) for v in enc(doc_feeds)]
            qv = enc(query_feeds)
            row = dict(collection=name, graph=Path(g).name, seconds=round(time.time() - t0, 1))
            S = (to_csr([prune_topk(v, qk) for v in qv], n) @ to_csr(dv, n).T).toarray()
            row.update(ranked_metrics(S, qids, [d for d, _ in corpus], qrels))
            out.append(row)
            print(json.dumps(row), flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="write a per-token int8 copy of a package")
    b.add_argument("package", type=Path)
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--version", required=True)
    b.add_argument("--calibrate", type=Path, nargs="+", required=True,
                   help="corpus.jsonl files whose first documents calibrate the smoothing (not a test collection)")
    b.add_argument("--calibrate-docs", type=int, default=CALIBRATION_DOCS)
    b.add_argument("--alpha", type=float, default=ALPHA)
    s = sub.add_parser("speed", help="docs/s: base, base backbone alone, candidates (one run, alternating)")
    s.add_argument("base")
    s.add_argument("candidates", nargs="*")
    s.add_argument("--corpus", required=True)
    s.add_argument("--limit", type=int, default=96)
    s.add_argument("--batch", type=int, default=8)
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--rounds", type=int, default=5)
    f = sub.add_parser("fidelity", help="candidate vectors against the base's")
    f.add_argument("base")
    f.add_argument("candidate")
    f.add_argument("--corpus", required=True)
    f.add_argument("--limit", type=int, default=64)
    f.add_argument("--threads", type=int, default=2)
    e = sub.add_parser("ndcg", help="nDCG@10, MRR@10, R@100 by exact dot products, all / dev / test queries")
    e.add_argument("graphs", nargs="+", help="packages (the first gives tokenizer and pruning)")
    e.add_argument("--collections", default="cisi,cacm,npl")
    e.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    if a.cmd == "ndcg":
        cmd_ndcg(a)
    elif a.cmd == "build":
        build(a.package, a.out, a.version, a.calibrate, a.calibrate_docs, a.alpha)
    elif a.cmd == "speed":
        cmd_speed(a)
    else:
        cmd_fidelity(a)


if __name__ == "__main__":
    main()
