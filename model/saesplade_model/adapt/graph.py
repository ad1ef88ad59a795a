"""The base package's graph, as adapt reads and rewrites it (torch-free).

A concept package's graph (export.py) is backbone -> pre = (h - b_dec) @ W_enc_t + b_enc -> per-token top-k
-> scale * log1p(relu) -> max pooling. Adapt needs two things from it: the backbone alone (its last hidden
states, the tensor the head subtracts b_dec from), and the head's parameters. It writes the adapted head
back into a copy of the same graph, so everything else (backbone, tie margins, pooling, output top-k) is
the base's, byte for byte. W_enc_t is stored as int8 per concept (symmetric, DequantizeLinear axis 1) in
the shipped package and requantized the same way; an fp32 W_enc_t is written back as fp32."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HIDDEN_DIM = 384


class PackageError(ValueError):
    """The base package is not one adapt can learn from (not a concept package, unknown graph)."""


@dataclass
class Head:
    W_enc: np.ndarray      # float32 [n, d] (the graph stores its transpose)
    b_enc: np.ndarray      # float32 [n]
    b_dec: np.ndarray      # float32 [d]
    log_scale: float
    k: int                 # per-token top-k
    tie_margin: float      # per-token gate width (tie_margin.py)

    @property
    def n(self):
        return self.W_enc.shape[0]

    def copy(self) -> "Head":
        return Head(self.W_enc.copy(), self.b_enc.copy(), self.b_dec.copy(), float(self.log_scale), self.k,
                    self.tie_margin)


def _inits(model) -> dict:
    return {t.name: t for t in model.graph.initializer}


def _const(model, name: str):
    """An initializer's or a Constant node's value."""
    from onnx import numpy_helper
    for t in model.graph.initializer:
        if t.name == name:
            return numpy_helper.to_array(t)
    for n in model.graph.node:
        if n.op_type == "Constant" and n.output[0] == name:
            return numpy_helper.to_array(n.attribute[0].t)
    return None


def hidden_name(model) -> str:
    """The head starts with Sub(h, b_dec): its first input is the last backbone layer's token states."""
    for n in model.graph.node:
        if n.op_type == "Sub" and n.input[1] == "b_dec":
            return n.input[0]
    raise PackageError("the graph has no SAE head (no Sub(hidden, b_dec)): adapt learns concept packages only")


def read_manifest(pkg: Path) -> dict:
    m = json.loads((pkg / "manifest.json").read_text())
    if m.get("format") != "sae-splade-model/1":
        raise PackageError(f"{pkg}: not a model package (format {m.get('format')!r})")
    return m


def load_graph(pkg: Path):
    import onnx
    m = read_manifest(pkg)
    return onnx.load(str(pkg / m["graphs"]["document"]["file"]))


def read_head(model) -> Head:
    from onnx import numpy_helper
    t = _inits(model)
    hidden_name(model)
    arr = {k: numpy_helper.to_array(v) for k, v in t.items()
           if k in ("W_enc_t", "W_enc_t_q", "W_enc_t_scale", "W_enc_t_zp", "b_enc", "b_dec", "scale")}
    if "W_enc_t_q" in arr:
        if np.any(arr.get("W_enc_t_zp", 0) != 0):   # int8_tokens drops the zero point (it must be 0)
            raise PackageError("W_enc_t is quantized with a zero point: not the layout adapt rewrites")
        W_t = arr["W_enc_t_q"].astype(np.float32) * arr["W_enc_t_scale"][None, :]
    elif "W_enc_t" in arr:
        W_t = arr["W_enc_t"].astype(np.float32)
    else:
        raise PackageError("the graph has no W_enc_t: adapt learns concept packages only")
    k = None
    margin = 0.0
    for n in model.graph.node:
        if n.op_type == "TopK" and n.output[0] == "tie_margin/token/values_k1":
            k = int(_const(model, n.input[1]).ravel()[0]) - 1
    inv = _const(model, "tie_margin/token/inv_margin")
    if inv is not None:
        margin = 1.0 / float(inv.ravel()[0])
    if k is None:
        for n in model.graph.node:   # a graph without tie margins: the first TopK after the head
            if n.op_type == "TopK" and n.input[0] == "/Add_output_0":
                k = int(_const(model, n.input[1]).ravel()[0])
    if k is None:
        raise PackageError("cannot find the per-token top-k of the head")
    return Head(np.ascontiguousarray(W_t.T), arr["b_enc"].astype(np.float32), arr["b_dec"].astype(np.float32),
                float(np.log(arr["scale"])), k, margin)


def poolable_of(model) -> np.ndarray:
    from onnx import numpy_helper
    return numpy_helper.to_array(_inits(model)["poolable"]) > 0


def backbone_bytes(model) -> bytes:
    """The backbone alone: inputs -> last hidden states [batch, seq, d] (output "hidden"); the nodes and
    initializers the head and pooling used are dropped."""
    import onnx
    from onnx import TensorProto, helper
    hidden = hidden_name(model)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    need, keep = {hidden}, []
    for n in reversed(list(g.node)):
        if any(o in need for o in n.output):
            keep.append(n)
            need.update(i for i in n.input if i)
            for a in n.attribute:   # subgraphs (If) read outer names too
                for sn in a.g.node:
                    need.update(i for i in sn.input if i)
    keep.reverse()
    del g.node[:]
    g.node.extend(keep)
    inits = [t for t in g.initializer if t.name in need]
    del g.initializer[:]
    g.initializer.extend(inits)
    del g.output[:]
    g.node.append(helper.make_node("Identity", [hidden], ["hidden"]))
    g.output.append(helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "seq", HIDDEN_DIM]))
    return m.SerializeToString()


def write_head(model, head: Head, path: Path):
    """A copy of the base graph with the adapted head."""
    import onnx
    from onnx import numpy_helper
    m = onnx.ModelProto()
    m.CopyFrom(model)
    t = _inits(m)
    W_t = np.ascontiguousarray(head.W_enc.T.astype(np.float32))
    if "W_enc_t_q" in t:
        s = np.abs(W_t).max(0) / 127.0
        s[s == 0] = 1.0
        q = np.clip(np.rint(W_t / s[None, :]), -127, 127).astype(np.int8)
        t["W_enc_t_q"].CopyFrom(numpy_helper.from_array(q, "W_enc_t_q"))
        t["W_enc_t_scale"].CopyFrom(numpy_helper.from_array(s.astype(np.float32), "W_enc_t_scale"))
    else:
        t["W_enc_t"].CopyFrom(numpy_helper.from_array(W_t, "W_enc_t"))
    t["b_enc"].CopyFrom(numpy_helper.from_array(head.b_enc.astype(np.float32), "b_enc"))
    t["b_dec"].CopyFrom(numpy_helper.from_array(head.b_dec.astype(np.float32), "b_dec"))
    t["scale"].CopyFrom(numpy_helper.from_array(np.array(np.exp(head.log_scale), np.float32), "scale"))
    onnx.checker.check_model(m)
    onnx.save(m, str(path))
