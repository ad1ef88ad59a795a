"""Evaluations run after the build on the same final model, merged into work/build_info.json, and REPORT.md
re-rendered (no number changes; used for model 2.0.0, whose build had to stop its own evaluation early).

    python -m saesplade_model.evalonnx work/model_w8.onnx npl work/eval_model_w8_npl.json
    python -m saesplade_model.evalonnx work/model_w8.onnx scifact work/eval_model_w8_scifact.json
    python -m saesplade_model.eval_torch scifact,cisi,cacm,npl
    python -m saesplade_model.posteval          # merge + re-render models/default/REPORT.md
"""
from __future__ import annotations

import json

import numpy as np

from .common import PACKAGE_DIR, WORK_DIR as W
from .data import load_corpus, load_test_queries
from .evaluate import hybrid, metrics


def merge():
    info = json.loads((W / "build_info.json").read_text())
    ev = info.setdefault("eval", {})
    for n in ["scifact", "cisi", "cacm", "npl"]:
        p = W / f"eval_torch_{n}.json"
        if p.exists():
            ev.setdefault(n, {}).update(json.loads(p.read_text()))
    for name in ["npl", "scifact"]:
        p = W / f"eval_model_w8_{name}.json"
        if not p.exists():
            continue
        for n, r in json.loads(p.read_text()).items():
            ev.setdefault(n, {})["sae_w8_onnx"] = r
            qids, _, qrels = load_test_queries(n)
            S = np.load(W / f"scores_model_w8_{n}.npy")
            B = np.load(W / f"scores_bm25_{n}.npy")
            ev[n]["hybrid_sae_w8_bm25"] = metrics(hybrid(S, B), qids, load_corpus(n)[0], qrels)
    (W / "build_info.json").write_text(json.dumps(info, indent=1, default=float))
    return info


def rerender(info):
    from . import full
    from .report import render_report
    extra = json.loads((W / "extra_notes.json").read_text()) if (W / "extra_notes.json").exists() else []
    info["notes"] = full.SWEEP_NOTES + extra
    (PACKAGE_DIR / "REPORT.md").write_text(render_report(info))


if __name__ == "__main__":
    rerender(merge())
    print("REPORT.md re-rendered")
