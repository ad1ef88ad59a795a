"""ONNX export (backbone + SAE-SPLADE head + in-graph max pooling + top-256) and int8 quantisation."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .common import OUT_TOPK, load_backbone, poolable_table
from .runtime import ort_session, prune  # noqa: F401  (prune: re-exported for older callers)
from .sae import TopKSAE
from .tie_margin import TIE_MARGIN, TIE_MARGIN_OUT, apply_tie_margin


class Encoder(nn.Module):
    def __init__(self, backbone, sae: TopKSAE, out_k: int = OUT_TOPK):
        super().__init__()
        self.backbone = backbone
        self.W_enc_t = nn.Parameter(sae.W_enc.detach().T.contiguous().clone(), requires_grad=False)  # [d, n]
        self.b_enc = nn.Parameter(sae.b_enc.detach().clone(), requires_grad=False)
        self.b_dec = nn.Parameter(sae.b_dec.detach().clone(), requires_grad=False)
        self.scale = nn.Parameter(sae.log_scale.detach().exp().clone(), requires_grad=False)
        self.register_buffer("poolable", torch.from_numpy(poolable_table().astype(np.float32)))
        self.k = sae.k
        self.n = sae.n
        self.out_k = out_k

    def forward(self, input_ids, attention_mask):
        h = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # [B,T,d]
        pre = torch.matmul(h - self.b_dec, self.W_enc_t) + self.b_enc                          # [B,T,n]
        v, i = torch.topk(pre, self.k, dim=-1)                                                  # [B,T,k]
        w = torch.log1p(F.relu(v)) * self.scale
        m = self.poolable[input_ids] * attention_mask.to(w.dtype)                               # [B,T]
        w = w * m.unsqueeze(-1)
        B = input_ids.shape[0]
        w = w.reshape(B, -1)
        i = i.reshape(B, -1)
        pooled = torch.zeros_like(pre[:, 0, :]).scatter_reduce(1, i, w, reduce="amax", include_self=True)
        values, indices = torch.topk(pooled, self.out_k, dim=1)
        return indices, values


def export_onnx(sae: TopKSAE, path: Path, opset: int = 18):
    enc = Encoder(load_backbone(), sae).eval()
    ids = torch.tensor([[101, 7592, 2088, 2003, 1037, 3231, 102], [101, 7592, 102, 0, 0, 0, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    with torch.no_grad():
        torch.onnx.export(
            enc, (ids, mask), str(path), dynamo=False, opset_version=opset,
            input_names=["input_ids", "attention_mask"], output_names=["indices", "values"],
            dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                          "indices": {0: "batch"}, "values": {0: "batch"}},
            do_constant_folding=True)
    import onnx
    m = onnx.load(str(path))
    simplify_graph(m, out_k=enc.out_k)
    apply_tie_margin(m, TIE_MARGIN, TIE_MARGIN_OUT)
    onnx.checker.check_model(m)
    onnx.save(m, str(path))
    return enc


def simplify_graph(m, out_k: int = OUT_TOPK):
    """Post-export clean-up, semantics unchanged for rank-2 inputs:
    - the legacy exporter wraps scatter_reduce in If nodes for a rank-0 corner case; their else branches are
      plain Identity pass-throughs (the branch always taken here). Inline them (this also removes an
      onnxruntime shape warning that the If's {-1} output shape caused at every run);
    - drop nodes whose outputs nobody uses;
    - give the outputs their static second dimension (k)."""
    g = m.graph
    rename = {}
    keep = []
    for n in g.node:
        if n.op_type == "If":
            eb = [a.g for a in n.attribute if a.name == "else_branch"][0]
            if all(x.op_type == "Identity" for x in eb.node):
                src = {x.output[0]: x.input[0] for x in eb.node}
                for o_outer, o_inner in zip(n.output, [o.name for o in eb.output]):
                    rename[o_outer] = src[o_inner]
                continue
        keep.append(n)
    for n in keep:
        for i, x in enumerate(n.input):
            while x in rename:
                x = rename[x]
            n.input[i] = x
    for o in g.output:
        assert o.name not in rename
    outputs = {o.name for o in g.output}
    while True:
        used = {x for n in keep for x in n.input} | outputs
        alive = [n for n in keep if any(o in used for o in n.output)]
        if len(alive) == len(keep):
            break
        keep = alive
    del g.node[:]
    g.node.extend(keep)
    used = {x for n in keep for x in n.input}
    inits = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(inits)
    del g.value_info[:]
    for o in g.output:
        d = o.type.tensor_type.shape.dim[1]
        d.ClearField("dim_param")
        d.dim_value = out_k


def head_matmul_nodes(path: Path) -> list[str]:
    """Names of MatMul nodes whose weight is the SAE encoder (second dim = dictionary size)."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(str(path))
    inits = {t.name: t for t in m.graph.initializer}
    out = []
    for node in m.graph.node:
        if node.op_type == "MatMul":
            for inp in node.input:
                if inp in inits and len(inits[inp].dims) == 2 and inits[inp].dims[1] >= 4096:
                    out.append(node.name)
    return out


def small_gather_nodes(path: Path) -> list[str]:
    """Gather nodes over 1-D tables (the poolable-token mask): keep them exact."""
    import onnx
    m = onnx.load(str(path))
    inits = {t.name: t for t in m.graph.initializer}
    return [n.name for n in m.graph.node if n.op_type == "Gather" and n.input[0] in inits
            and len(inits[n.input[0]].dims) < 2]


def quantize(src: Path, dst: Path, exclude_head: bool = False):
    """Dynamic int8: weights of MatMuls and the embedding Gathers (the word-embedding table is 47 MB fp32)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    excl = (head_matmul_nodes(src) if exclude_head else []) + small_gather_nodes(src)
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gather"],
                     nodes_to_exclude=excl)
    return excl


class OnnxEncoder:
    """Encode texts with onnxruntime, tokenising exactly as the contract says (explicit truncation,
    padding only to the batch's longest text)."""

    def __init__(self, path: Path, threads: int = 2):
        self.sess = ort_session(path, threads)

    def encode(self, texts: list[str], max_length: int, batch: int = 8, top_k: int | None = None,
               progress: bool = False):
        from .backbone import pad_batch, tokenize
        import time
        seqs = tokenize(texts, max_length)
        order = np.argsort([-len(s) for s in seqs], kind="stable")
        res: list = [None] * len(texts)
        t0 = last = time.time()
        for a in range(0, len(order), batch):
            idx = order[a:a + batch]
            ids, mask = pad_batch([seqs[j] for j in idx])
            ind, val = self.sess.run(["indices", "values"], {"input_ids": ids, "attention_mask": mask})
            for r, j in enumerate(idx):
                res[j] = prune(ind[r], val[r], top_k)
            if progress and time.time() - last > 30:
                last = time.time()
                print(f"    onnx: {a + len(idx)}/{len(texts)} in {time.time() - t0:.0f} s", flush=True)
        return res


def quantize_weights_only(src: Path, dst: Path, min_size: int = 65536, head_fp16: bool = False):
    """Weight-only int8: every large MatMul / Gather weight initializer is stored as int8 with a per-channel
    fp32 scale and a DequantizeLinear node in front of its consumer. Activations stay fp32, so, unlike
    quantize_dynamic (whose activation scale is taken over the whole batch tensor), a text's vector does not
    depend on what it is batched with. Standard ONNX ops only (DequantizeLinear, opset >= 13)."""
    import onnx
    from onnx import helper, numpy_helper
    m = onnx.load(str(src))
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    consumers = {}
    for node in g.node:
        for i, inp in enumerate(node.input):
            consumers.setdefault(inp, []).append((node, i))
    new_inits, new_nodes, drop = [], [], set()
    for name, t in inits.items():
        if len(t.dims) != 2 or t.dims[0] * t.dims[1] < min_size or t.data_type != onnx.TensorProto.FLOAT:
            continue
        uses = consumers.get(name, [])
        if not uses or not all((n.op_type == "MatMul" and i == 1) or (n.op_type == "Gather" and i == 0) for n, i in uses):
            continue
        w = numpy_helper.to_array(t).astype(np.float32)
        if head_fp16 and uses[0][0].op_type == "MatMul" and t.dims[1] >= 4096:
            # the SAE encoder: stored as float16 + Cast (half the size of fp32, no int8 rounding)
            new_inits.append(numpy_helper.from_array(w.astype(np.float16), name + "_f16"))
            new_nodes.append(helper.make_node("Cast", [name + "_f16"], [name + "_dq"], to=onnx.TensorProto.FLOAT,
                                              name=name + "_Cast"))
            for n, i in uses:
                n.input[i] = name + "_dq"
            drop.add(name)
            continue
        axis = 1 if uses[0][0].op_type == "MatMul" else 0   # MatMul [K, N]: per output column; Gather: per row
        amax = np.abs(w).max(axis=0 if axis == 1 else 1)
        scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
        q = np.clip(np.rint(w / (scale[None, :] if axis == 1 else scale[:, None])), -127, 127).astype(np.int8)
        new_inits += [numpy_helper.from_array(q, name + "_q"), numpy_helper.from_array(scale, name + "_scale"),
                      numpy_helper.from_array(np.zeros(len(scale), np.int8), name + "_zp")]
        new_nodes.append(helper.make_node("DequantizeLinear", [name + "_q", name + "_scale", name + "_zp"],
                                          [name + "_dq"], axis=axis, name=name + "_DequantizeLinear"))
        for n, i in uses:
            n.input[i] = name + "_dq"
        drop.add(name)
    keep = [t for t in g.initializer if t.name not in drop]
    del g.initializer[:]
    g.initializer.extend(keep + new_inits)
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(new_nodes + nodes)
    onnx.checker.check_model(m)
    onnx.save(m, str(dst))
    return sorted(drop)
