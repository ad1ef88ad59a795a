"""Tie margin: makes the graph's two hard top-k cuts continuous in their inputs.

Why: a per-token TopK (8 of 16,384) is a step function. When the 8th and 9th pre-activations of a token
are within float noise of each other, a last-bit difference between two CPUs' kernels (exp, erf, GEMM
blocking) swaps them, and the swapped concept enters the vector at full weight (issue 14: cosine
0.944-0.996 against golden vectors made on another CPU, document weights off by up to 0.48).

The rewrite keeps k + 1 values and multiplies each kept value v_j by

    gate_j = clip((v_j - v_{k+1}) / margin, 0, 1)

so a concept fades out linearly as it nears the first one cut, and the one cut enters at weight 0. The
output is then Lipschitz in the pre-activations (a perturbation e moves a weight by at most about
w * 2e / margin), still at most k non-zeros per token, still computed per token (batch-invariant), and
equal to the hard TopK wherever the gap to the (k+1)-th value is at least `margin`.

The same gate is applied to the final top-256 over the max-pooled vector, against its 257th value.

Applied to a finished ONNX graph (onnx only, no torch), so that the export of a new build and the
upgrade of an already built package use the same code."""
from __future__ import annotations

import numpy as np

# Chosen on the dev split of cisi, cacm and npl (odd query ids) with the 1.1.0 head: docs/ENCODER.md.
TIE_MARGIN = 0.02       # per-token, in pre-activation units
TIE_MARGIN_OUT = 0.02   # final top-k, in pooled-weight units


def _const(consts: list, name: str, value) -> str:
    from onnx import helper, numpy_helper
    consts.append(helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(value), name),
                                   name=name + "_Constant"))
    return name


def _k_of(g, topk) -> int:
    from onnx import numpy_helper
    src = topk.input[1]
    for n in g.node:
        if n.op_type == "Constant" and n.output[0] == src:
            return int(numpy_helper.to_array(n.attribute[0].t).reshape(-1)[0])
    for t in g.initializer:
        if t.name == src:
            return int(numpy_helper.to_array(t).reshape(-1)[0])
    raise ValueError(f"TopK {topk.name}: K is not a constant")


def _gate_topk(g, topk, margin: float, prefix: str, consts: list):
    """Rewrites `topk` (K = k) into TopK(k + 1) + gate; its two output names now carry the gated values
    and the first k indices, so every consumer is unchanged."""
    from onnx import helper
    k = _k_of(g, topk)
    axis = [a.i for a in topk.attribute if a.name == "axis"][0]
    vals_out, idx_out = topk.output[0], topk.output[1]
    v_all, i_all = f"{prefix}/values_k1", f"{prefix}/indices_k1"
    topk.input[1] = _const(consts, f"{prefix}/k1", np.array([k + 1], np.int64))
    topk.output[0], topk.output[1] = v_all, i_all
    starts0 = _const(consts, f"{prefix}/start0", np.array([0], np.int64))
    ends_k = _const(consts, f"{prefix}/end_k", np.array([k], np.int64))
    ends_k1 = _const(consts, f"{prefix}/end_k1", np.array([k + 1], np.int64))
    axes = _const(consts, f"{prefix}/axis", np.array([axis], np.int64))
    inv = _const(consts, f"{prefix}/inv_margin", np.array(1.0 / margin, np.float32))
    zero = _const(consts, f"{prefix}/zero", np.array(0.0, np.float32))
    one = _const(consts, f"{prefix}/one", np.array(1.0, np.float32))
    nodes = [
        helper.make_node("Slice", [v_all, starts0, ends_k, axes], [f"{prefix}/v"], name=f"{prefix}/SliceV"),
        helper.make_node("Slice", [i_all, starts0, ends_k, axes], [idx_out], name=f"{prefix}/SliceI"),
        helper.make_node("Slice", [v_all, ends_k, ends_k1, axes], [f"{prefix}/v_next"], name=f"{prefix}/SliceNext"),
        helper.make_node("Sub", [f"{prefix}/v", f"{prefix}/v_next"], [f"{prefix}/gap"], name=f"{prefix}/Gap"),
        helper.make_node("Mul", [f"{prefix}/gap", inv], [f"{prefix}/gap_scaled"], name=f"{prefix}/Scale"),
        helper.make_node("Clip", [f"{prefix}/gap_scaled", zero, one], [f"{prefix}/gate"], name=f"{prefix}/Gate"),
    ]
    return nodes, f"{prefix}/v", f"{prefix}/gate", vals_out


def apply_tie_margin(m, margin: float, out_margin: float):
    """In place on an onnx ModelProto exported by export.py (per-token TopK feeding Relu -> log1p, and a
    final TopK named by the graph outputs `values` / `indices`)."""
    from onnx import helper
    g = m.graph
    topks = [n for n in g.node if n.op_type == "TopK"]
    final = [n for n in topks if "values" in n.output]
    token = [n for n in topks if "values" not in n.output]
    if len(final) != 1 or len(token) != 1:
        raise ValueError(f"expected one per-token and one final TopK, found {[n.name for n in topks]}")
    if any(n.name.startswith("tie_margin/") for n in g.node):
        raise ValueError("graph already has a tie margin")
    tok_name, fin_name = token[0].name, final[0].name

    def by_name(name):  # fresh: _insert_after rebuilds g.node, which detaches earlier references
        return next(n for n in g.node if n.name == name)

    consts: list = []
    tok = by_name(tok_name)

    # per token: the gate multiplies ReLU(v), before log1p, so that gate 0 gives weight 0
    nodes, v, gate, vals = _gate_topk(g, tok, margin, "tie_margin/token", consts)
    relu = [n for n in g.node if vals in n.input]
    if len(relu) != 1 or relu[0].op_type != "Relu":
        raise ValueError(f"per-token TopK values feed {[n.op_type for n in relu]}, expected one Relu")
    relu[0].input[0] = v
    relu_out, relu_name = relu[0].output[0], relu[0].name
    gated = "tie_margin/token/relu_gated"
    for n in g.node:
        for i, x in enumerate(n.input):
            if x == relu_out:
                n.input[i] = gated
    _insert_after(g, tok, nodes)
    _insert_after(g, by_name(relu_name), [helper.make_node("Mul", [relu_out, gate], [gated], name="tie_margin/token/Apply")])

    # final top-k over the pooled vector: values are its graph output
    fin = by_name(fin_name)
    nodes, v, gate, vals = _gate_topk(g, fin, out_margin, "tie_margin/out", consts)
    nodes.append(helper.make_node("Mul", [v, gate], [vals], name="tie_margin/out/Apply"))
    _insert_after(g, fin, nodes)
    nodes = consts + list(g.node)   # constants first: they have no inputs
    del g.node[:]
    g.node.extend(nodes)
    for key, value in (("tie_margin", margin), ("tie_margin_out", out_margin)):
        entry = m.metadata_props.add()
        entry.key, entry.value = key, f"{value}"
    return m


def apply_final_tie_margin(m, out_margin: float):
    """In place: the gate on the final top-k only, for a graph that has no per-token TopK (a vocabulary
    SPLADE graph: max over tokens of log1p(relu(logits)), then one TopK whose outputs are the graph outputs
    `values` / `indices`). The same rewrite `apply_tie_margin` makes of the concept graph's final TopK; the
    concept graph itself must keep going through `apply_tie_margin` (which also gates its per-token TopK)."""
    from onnx import helper
    g = m.graph
    topks = [n for n in g.node if n.op_type == "TopK"]
    final = [n for n in topks if "values" in n.output]
    if len(final) != 1 or len(topks) != 1:
        raise ValueError(f"expected exactly one (final) TopK, found {[n.name for n in topks]}")
    if any(n.name.startswith("tie_margin/") for n in g.node):
        raise ValueError("graph already has a tie margin")
    consts: list = []
    fin = final[0]
    nodes, v, gate, vals = _gate_topk(g, fin, out_margin, "tie_margin/out", consts)
    nodes.append(helper.make_node("Mul", [v, gate], [vals], name="tie_margin/out/Apply"))
    _insert_after(g, fin, nodes)
    nodes = consts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    entry = m.metadata_props.add()
    entry.key, entry.value = "tie_margin_out", f"{out_margin}"
    return m


def _insert_after(g, node, new_nodes):
    nodes = list(g.node)
    at = next(i for i, n in enumerate(nodes) if n.name == node.name) + 1
    nodes[at:at] = new_nodes
    del g.node[:]
    g.node.extend(nodes)


def rewrite_file(src, dst, margin: float, out_margin: float):
    import onnx
    m = onnx.load(str(src))
    apply_tie_margin(m, margin, out_margin)
    onnx.checker.check_model(m)
    onnx.save(m, str(dst))
