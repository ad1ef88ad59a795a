"""Rebuild the default model package from scratch, seeded, printing the time of each step.

    model/.venv/bin/python -m saesplade_model.build            # full build (about 45-60 min on 2 cores)
    model/.venv/bin/python -m saesplade_model.build --quick    # preliminary package in a few minutes
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np
import torch

from .common import (DOC_MAX_LEN, PACKAGE_DIR, QUERY_MAX_LEN, TRAIN_COLLECTIONS, WORK_DIR, Timer,
                     load_backbone, poolable_table, set_threads)


def seed_all(seed: int):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="preliminary package: small subset, stage 1 only")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--reuse-cache", action="store_true", help="reuse backbone caches in model/work/")
    ap.add_argument("--stage1-steps", type=int, default=None)
    ap.add_argument("--stage2-steps", type=int, default=None)
    ap.add_argument("--stage2-budget-s", type=float, default=None, help="stop stage 2 after this many seconds")
    ap.add_argument("--skip-stage2", action="store_true")
    ap.add_argument("--reuse-stage1", action="store_true")
    ap.add_argument("--reuse-stage2", action="store_true")
    ap.add_argument("--version", default=None)
    ap.add_argument("--out", default=str(PACKAGE_DIR))
    ap.add_argument("--no-eval", action="store_true")
    ap.add_argument("--onnx-eval", default="cisi,cacm,npl,scifact",
                    help="collections evaluated end to end through the shipped graph (in this order)")
    ap.add_argument("--torch-eval", default="scifact,cisi,cacm,npl",
                    help="collections evaluated with the torch head on cached backbone states")
    ap.add_argument("--stage1-ablation", action="store_true", help="also evaluate the stage-1-only head on the test sets")
    ap.add_argument("--eval-deadline", type=float, default=None,
                    help="unix time after which the shipped-graph evaluation is stopped (partial results kept)")
    ap.add_argument("--onnx-attach-pid", type=int, default=None,
                    help="wait for an already running shipped-graph evaluation (this pid) instead of starting one")
    ap.add_argument("--onnx-wait-s", type=float, default=None,
                    help="stop waiting for the shipped-graph evaluation after this many seconds (partial results)")
    args = ap.parse_args(argv)
    set_threads()
    seed_all(args.seed)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    T = Timer()
    if args.quick:
        from .quick import quick_build
        return quick_build(args, T)
    from .full import full_build
    return full_build(args, T)


if __name__ == "__main__":
    main()
