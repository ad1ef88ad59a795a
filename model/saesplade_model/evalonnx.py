"""End-to-end evaluation of one ONNX graph (tokenizer -> onnxruntime) on some collections.

    python -m saesplade_model.evalonnx GRAPH scifact,cacm OUT.json
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from .common import set_threads


def eval_graph(graph: Path, collections: list[str], out_path: Path | None = None) -> dict:
    from .data import load_corpus, load_test_queries
    from .export import OnnxEncoder
    from .report import onnx_eval
    enc = OnnxEncoder(graph)
    out = {}
    for n in collections:
        dids, dtexts = load_corpus(n)
        qids, qtexts, qrels = load_test_queries(n)
        keep = []
        out[n] = onnx_eval(enc, dtexts, qtexts, qids, dids, qrels, keep)
        import numpy as np
        from .common import WORK_DIR
        np.save(WORK_DIR / f"scores_{Path(graph).stem}_{n}.npy", keep[0])
        print(f"  onnx {Path(graph).name} {n}: {json.dumps({k: v for k, v in out[n].items() if k not in ('dev', 'test')})}",
              flush=True)
        if out_path is not None:   # partial results after each collection
            Path(out_path).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    set_threads()
    t = time.time()
    r = eval_graph(Path(sys.argv[1]), sys.argv[2].split(","), Path(sys.argv[3]))
    Path(sys.argv[3]).write_text(json.dumps(r, indent=1))
    print(f"  done in {time.time() - t:.0f} s", flush=True)
