"""runtime.prune (torch-free) against the product's prune (src/encoder/prune.ts) on every rule."""
import json

import numpy as np
import pytest
from conftest import PARITY

from saesplade_model.runtime import prune

FIX = json.loads((PARITY / "prune.json").read_text())


def _py(pruning):
    return {
        "top_k": pruning.get("topK"),
        "min_weight": pruning.get("minWeight", 0.0),
        "max_ratio": pruning.get("maxRatio", 0.0),
        "mass": pruning.get("mass", 1.0),
    }


@pytest.mark.parametrize("case", FIX["cases"], ids=[c["name"] for c in FIX["cases"]])
def test_prune_equals_typescript(case):
    ind, val = prune(np.array(FIX["indices"]), np.array(FIX["values"], dtype=np.float64), **_py(case["pruning"]))
    o = np.argsort(ind)  # the product returns the kept ids in id order
    assert ind[o].tolist() == case["expected"]["indices"]
    np.testing.assert_allclose(val[o], np.array(case["expected"]["values"], dtype=np.float32), rtol=0, atol=0)


def test_heaviest_first_with_ties_by_lower_id():
    ind, val = prune(np.array([7, 3, 5]), np.array([0.5, 0.5, 0.9]))
    assert ind.tolist() == [5, 3, 7]


def test_nothing_left_is_empty():
    ind, val = prune(np.array([1, 2]), np.array([0.0, -1.0]), top_k=1)
    assert ind.size == 0 and val.size == 0
    assert ind.dtype == np.int64 and val.dtype == np.float32


def test_no_torch_needed():
    import sys
    assert "torch" not in sys.modules
