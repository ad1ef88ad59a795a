"""Experiment: query weights x idf(concept)^alpha, idf from the searched corpus's own document vectors or from
the three training collections' (exact dot products, the package's pruning; look at dev, odd query ids).

    python -m saesplade_model.idf_queries cisi,cacm,npl 0,0.25,0.5,0.75,1,1.5

Result (2026-12-08, model/README.md "Experiments after 2.0.0"): no gain on the dev halves; not kept.
Vectors are cached in model/work/vecs_<collection>.npz.
"""
import json
import sys

import numpy as np

from .common import PACKAGE_DIR as PKG, WORK_DIR as OUT
from .drift import load_collection, prune_topk, ranked_metrics, to_csr
from .long_docs import content_ids, encode_group
from .runtime import ort_session

MAN = json.loads((PKG / "manifest.json").read_text())
N = MAN["dictionary_size"]


def vectors(name):
    """Document and query vectors of the package (truncated, pruned as its manifest says), cached."""
    f = OUT / f'vecs_{name}.npz'
    corpus, queries, qrels = load_collection(name)
    qids = list(queries)
    if f.exists():
        z = np.load(f, allow_pickle=True)
        return corpus, qids, qrels, list(z['docs']), list(z['queries'])
    sess = ort_session(PKG / MAN["graphs"]["document"]["file"], 2)

    def enc(texts, mode):
        c, p, s = content_ids(PKG, texts)
        room = MAN["max_length"][mode] - len(p) - len(s)
        v, _ = encode_group(sess, [p + x[:room] + s for x in c], 8)
        return [prune_topk(x, MAN["pruning"][mode]["top_k"]) for x in v]
    dv = enc([t for _, t in corpus], "document")
    qv = enc([queries[q] for q in qids], "query")
    np.savez(f, docs=np.array(dv, dtype=object), queries=np.array(qv, dtype=object))
    return corpus, qids, qrels, dv, qv


def idf_of(dvs, nd):
    df = np.zeros(N)
    for ind, _ in dvs:
        df[ind] += 1
    return np.log((nd - df + 0.5) / (df + 0.5) + 1.0)


def score(corpus, qids, qrels, D, qv, w):
    S = (to_csr([(i, v * w[i]) for i, v in qv], N) @ D.T).toarray()
    return {sp: m["ndcg10"] for sp, m in ranked_metrics(S, qids, [d for d, _ in corpus], qrels).items()}


if __name__ == '__main__':
    names = sys.argv[1].split(',')
    alphas = [float(a) for a in sys.argv[2].split(',')]
    data = {n: vectors(n) for n in names}
    train_idf = None
    allv = [v for n in ('cisi', 'cacm', 'npl') if n in data for v in data[n][3]]
    if allv:
        train_idf = idf_of(allv, len(allv))
    for n in names:
        corpus, qids, qrels, dv, qv = data[n]
        D = to_csr(dv, N)
        own = idf_of(dv, len(dv))
        for a in alphas:
            r = {'collection': n, 'alpha': a, 'own': score(corpus, qids, qrels, D, qv, own ** a)}
            if train_idf is not None:
                r['train'] = score(corpus, qids, qrels, D, qv, train_idf ** a)
            print(json.dumps(r), flush=True)
