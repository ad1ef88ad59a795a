"""Golden vectors: what the runtime must reproduce on any machine (torch-free).

Encoded one text at a time with the product's session settings (runtime.py: all fusions,
QDQ handling off), pruned as the manifest says. The tolerance is the cross-machine guarantee of
docs/ENCODER.md ("Across machines"): each concept within 1e-3 and a cosine of at least 0.9999 per text,
on any x86-64 CPU. Measured drift between AVX2 and AVX-512 kernels is about 1e-6; the regression
fixtures of test/integration/encoder-golden-regression.test.ts show that one wrong weight, a wrong
pooling or a tokenizer change fail it."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .runtime import has_content, ort_session, prune

TOLERANCE = {"abs": 1e-3, "cosine": 0.9999}

GOLDEN_TEXTS = [
    ("document", ""),
    ("document", "... !!! ?? -- (;)"),
    ("query", ""),
    ("query", "?!"),
    ("document", "Microstructural development of human newborn cerebral white matter assessed in vivo by "
                 "diffusion tensor magnetic resonance imaging."),
    ("document", "The present study is a history of the DEWEY Decimal Classification. The first edition of the "
                 "DDC was published in 1876, the eighteenth edition in 1971, and future editions will continue "
                 "to appear as needed."),
    ("document", "compact memories have flexible capacities a digital data storage system with capacity up to "
                 "bits and random and or sequential access is described"),
    ("document", "Heart attacks and cardiac arrest: cardiovascular risk factors in elderly patients. " * 30),
    ("query", "What problems and concerns are there in making up descriptive titles?"),
    ("query", "time sharing operating system"),
    ("query", "MEASUREMENT OF DIELECTRIC CONSTANT OF LIQUIDS BY THE USE OF MICROWAVE TECHNIQUES"),
    ("query", "Does vitamin D deficiency increase the risk of cardiovascular disease in adults over fifty "
              "years of age according to large randomised trials and cohort studies?"),
    ("document", "naïve café résumé — Ünïcödé text with emoji 🙂 and numbers 3.14"),
]


def golden(onnx_path: Path, tokenizer_path: Path, max_length: dict, pruning: dict) -> dict:
    from tokenizers import Tokenizer
    sess = ort_session(onnx_path)
    cases = []
    for mode, text in GOLDEN_TEXTS:
        tok = Tokenizer.from_file(str(tokenizer_path))
        tok.no_padding()
        tok.enable_truncation(max_length[mode])
        if not has_content(text):   # the runtime's rule: no letter or digit, empty vector, graph not run
            cases.append({"mode": mode, "text": text, "indices": [], "values": []})
            continue
        ids = np.array([tok.encode(text).ids], np.int64)
        ind, val = sess.run(["indices", "values"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})
        p = pruning[mode]
        ind, val = prune(ind[0], val[0], p["top_k"], p["min_weight"], p["mass"])
        cases.append({"mode": mode, "text": text, "indices": [int(i) for i in ind],
                      "values": [round(float(x), 6) for x in val]})
    return {"tolerance": dict(TOLERANCE), "cases": cases}


def write_golden(pkg: Path) -> dict:
    m = json.loads((pkg / "manifest.json").read_text())
    g = golden(pkg / m["graphs"]["document"]["file"], pkg / m["tokenizer"], m["max_length"], m["pruning"])
    (pkg / m["golden"]).write_text(json.dumps(g, ensure_ascii=False, indent=1) + "\n")
    return g
