"""The toolkit's metrics against the TypeScript figures on graded relevance (linear gain, docs/EVAL.md)."""
import json
import math

import pytest
from conftest import PARITY

from saesplade_model.metrics import evaluate_run, mrr_at, ndcg_at, recall_at

FIX = json.loads((PARITY / "metrics.json").read_text())


def test_gain_is_named():
    assert FIX["gain"] == "linear"


@pytest.mark.parametrize("q", sorted(FIX["perQuery"]))
def test_per_query_figures_equal_typescript(q):
    judged, ranked, want = FIX["qrels"][q], FIX["run"].get(q, []), FIX["perQuery"][q]
    assert ndcg_at(ranked, judged, 10) == pytest.approx(want["ndcg10"], abs=1e-12)
    assert mrr_at(ranked, judged, 10) == pytest.approx(want["mrr10"], abs=1e-12)
    assert recall_at(ranked, judged, 100) == pytest.approx(want["recall100"], abs=1e-12)


def test_summary_equals_typescript():
    got = evaluate_run(FIX["run"], FIX["qrels"])
    want = FIX["summary"]
    assert got["queries"] == want["queries"] == 4  # q4 has no relevant document, q5 no run
    for m in ("ndcg10", "mrr10", "recall100"):
        assert got[m] == pytest.approx(want[m], abs=1e-12)


def test_linear_gain_by_hand():
    # q1: ranks d9 (0), d3 (1), x1, d1 (3), d2 (2); ideal 3, 2, 1
    dcg = 1 / math.log2(3) + 3 / math.log2(5) + 2 / math.log2(6)
    idcg = 3 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at(FIX["run"]["q1"], FIX["qrels"]["q1"]) == pytest.approx(dcg / idcg)


def test_exponential_gain_would_differ_on_graded_but_not_binary_judgements():
    """Why the gain must be named: 2^g - 1 and g agree on 0/1 judgements only."""
    def ndcg_exp(ranked, judged, k=10):
        dcg = sum((2 ** judged[d] - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if judged.get(d, 0) > 0)
        ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
        return dcg / sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    q1 = (FIX["run"]["q1"], FIX["qrels"]["q1"])
    assert ndcg_exp(*q1) != pytest.approx(ndcg_at(*q1))
    binary = {d: 1 for d, g in FIX["qrels"]["q3"].items() if g > 0}
    assert ndcg_exp(FIX["run"]["q3"], binary) == pytest.approx(ndcg_at(FIX["run"]["q3"], binary))
