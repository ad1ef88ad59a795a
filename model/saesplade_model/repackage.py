"""Give an already built package the tie margin (tie_margin.py) and the portable golden vectors
(golden.py), under a new version, without retraining (torch-free):

  python -m saesplade_model.repackage ../models/default --version 1.2.0

The graph's vectors change (slightly: docs/ENCODER.md), so the version must: the index guard then
refuses to mix old and new vectors, and `saesplade reindex` moves an index over."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .golden import write_golden
from .tie_margin import TIE_MARGIN, TIE_MARGIN_OUT, rewrite_file


def repackage(pkg: Path, version: str, margin: float, out_margin: float):
    m = json.loads((pkg / "manifest.json").read_text())
    old = m["version"]
    files = {g["file"] for g in m["graphs"].values()}
    for f in files:
        rewrite_file(pkg / f, pkg / f, margin, out_margin)
    m["version"] = version
    (pkg / "manifest.json").write_text(json.dumps(m, indent=2) + "\n")
    write_golden(pkg)
    prov = pkg / "PROVENANCE.md"
    if prov.exists():
        prov.write_text(prov.read_text().rstrip("\n") + f"\n\n{version}: the {old} graph with a tie margin on its two "
                        f"top-k cuts (margin {margin}, final {out_margin}; model/saesplade_model/tie_margin.py) and golden "
                        f"vectors made with onnxruntime's QDQ handling off (`python -m saesplade_model.repackage`).\n")
    print(f"{pkg}: {old} -> {version}, tie margin {margin} / {out_margin}, golden vectors rewritten")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("package", type=Path)
    ap.add_argument("--version", required=True)
    ap.add_argument("--margin", type=float, default=TIE_MARGIN)
    ap.add_argument("--out-margin", type=float, default=TIE_MARGIN_OUT)
    a = ap.parse_args()
    repackage(a.package, a.version, a.margin, a.out_margin)


if __name__ == "__main__":
    main()
