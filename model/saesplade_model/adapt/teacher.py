"""The label-free fused teacher of stage 2 (stage2.fused_teacher, computed per query instead of as a full
matrix, so that memory stays O(queries + documents)): 0.5 x min-max(dense cosine) + 0.5 x min-max(stemmed
BM25), each normalised over the query's top 100 in the corpus and clipped to [0, 1]. BM25 is bm25s with
k1 0.9, b 0.4, English stop words and Snowball stemming, as the model build's reference."""
from __future__ import annotations

import numpy as np

TOP = 100
W_DENSE = 0.5


class FusedTeacher:
    def __init__(self, doc_texts: list[str], doc_emb: np.ndarray):
        import bm25s
        import Stemmer
        self._bm25s = bm25s
        self.stemmer = Stemmer.Stemmer("english")
        self.retriever = bm25s.BM25(k1=0.9, b=0.4, method="lucene")
        ctok = bm25s.tokenize(doc_texts, stopwords="en", stemmer=self.stemmer, show_progress=False)
        self.vocab = ctok.vocab
        self.retriever.index(ctok, show_progress=False)
        self.doc_emb = doc_emb
        self.n_docs = len(doc_texts)

    def query_tokens(self, texts: list[str]) -> list[list[str]]:
        return self._bm25s.tokenize(texts, stopwords="en", stemmer=self.stemmer, show_progress=False,
                                    return_ids=False)

    def bm25(self, tokens: list[str]) -> np.ndarray:
        ids = [int(self.vocab[t]) for t in tokens if t in self.vocab]
        if not ids:
            return np.zeros(self.n_docs, np.float32)
        return np.asarray(self.retriever.get_scores(ids), np.float32)

    @staticmethod
    def _range(s: np.ndarray) -> tuple[float, float]:
        top = np.partition(s, -min(TOP, len(s)))[-min(TOP, len(s)):]
        return float(top.min()), float(top.max())

    def stats(self, q_emb: np.ndarray, q_tokens: list[list[str]], pos: np.ndarray, depth: int = 30,
              reporter=None) -> tuple[np.ndarray, np.ndarray]:
        """Per query: the normalisation ranges [dense min, dense max, bm25 min, bm25 max] and the fused
        teacher's top `depth` documents other than the source (hard negatives, best first)."""
        n = len(q_emb)
        ranges = np.zeros((n, 4), np.float32)
        negs = np.zeros((n, depth), np.int64)
        for a in range(0, n, 256):
            dense = q_emb[a:a + 256] @ self.doc_emb.T
            for r in range(dense.shape[0]):
                qi = a + r
                b = self.bm25(q_tokens[qi])
                ranges[qi] = (*self._range(dense[r]), *self._range(b))
                f = self._fuse(dense[r], b, ranges[qi])
                f[pos[qi]] = -1.0
                top = np.argpartition(-f, depth)[:depth]
                negs[qi] = top[np.argsort(-f[top], kind="stable")]
            if reporter:
                reporter.progress(min(n, a + 256))
        return ranges, negs

    @staticmethod
    def _fuse(dense: np.ndarray, bm25: np.ndarray, rng: np.ndarray) -> np.ndarray:
        d = np.clip((dense - rng[0]) / max(1e-6, rng[1] - rng[0]), 0, 1)
        b = np.clip((bm25 - rng[2]) / max(1e-6, rng[3] - rng[2]), 0, 1)
        return W_DENSE * d + (1 - W_DENSE) * b

    def scores(self, q_emb: np.ndarray, q_tokens: list[list[str]], ranges: np.ndarray, drows: np.ndarray) -> np.ndarray:
        """Fused teacher scores [queries, len(drows)]."""
        dense = q_emb @ self.doc_emb[drows].T
        out = np.zeros_like(dense)
        for r in range(len(q_emb)):
            out[r] = self._fuse(dense[r], self.bm25(q_tokens[r])[drows], ranges[r])
        return out
