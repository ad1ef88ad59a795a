"""Retrieval metrics as trec_eval and BEIR (pytrec_eval) compute them, torch-free: LINEAR gain (a document
judged g contributes g / log2(rank + 1)), ideal DCG from the judged relevant documents, judgements <= 0
non-relevant, only queries with a relevant document scored. The same rule as the product's
src/eval/metrics.ts; parity on graded relevance: model/tests/test_metrics.py against
test/fixtures/parity/metrics.json (written by the TypeScript side, scripts/parity-fixtures.ts).

evaluate.metrics (the model build's evaluation) scores each query with these functions too."""
from __future__ import annotations

import math


def ndcg_at(ranked: list[str], judged: dict[str, float], k: int = 10) -> float:
    dcg = sum(judged.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if judged.get(d, 0) > 0)
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def mrr_at(ranked: list[str], judged: dict[str, float], k: int = 10) -> float:
    for i, d in enumerate(ranked[:k]):
        if judged.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def recall_at(ranked: list[str], judged: dict[str, float], k: int = 100) -> float:
    relevant = {d for d, g in judged.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant & set(ranked[:k])) / len(relevant)


def evaluate_run(run: dict[str, list[str]], qrels: dict[str, dict[str, float]]) -> dict:
    """Means over the judged queries with a relevant document (a missing run counts as empty):
    {queries, ndcg10, mrr10, recall100}, as src/eval/metrics.ts's evaluateRun."""
    n, ndcg, mrr, recall = 0, 0.0, 0.0, 0.0
    for q, judged in qrels.items():
        if not any(g > 0 for g in judged.values()):
            continue
        ranked = run.get(q, [])
        n += 1
        ndcg += ndcg_at(ranked, judged, 10)
        mrr += mrr_at(ranked, judged, 10)
        recall += recall_at(ranked, judged, 100)
    if n == 0:
        return {"queries": 0, "ndcg10": 0.0, "mrr10": 0.0, "recall100": 0.0}
    return {"queries": n, "ndcg10": ndcg / n, "mrr10": mrr / n, "recall100": recall / n}
