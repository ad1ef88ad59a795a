"""Long documents: truncation against max-pooled passages (and one 512-token window), measured.

    python -m saesplade_model.long_docs compare ../models/default --collections cisi,cacm,npl,scifact \
        --out work/long_docs.json

Documents over the package's `max_length.document` lose their tail when truncated. The runtime's
passages mode (src/encoder/tokenize.ts `passages`, src/encoder/local.ts) instead cuts the content
tokens into windows of max_length - 2 content tokens that overlap by max_length / 8, encodes each,
max-pools the windows' vectors and prunes the result to the document top-k. This command builds
exactly that in Python (same windows, same pooling, same pruning; torch-free) and scores three
document encodings against the same query vectors by exact dot products (what OpenSearch's
rank_feature sum computes):

- `truncate`: the first window only (the runtime's default);
- `passages`: every window (at most --max-passages), max-pooled;
- `window512`: one window of 512 tokens (the backbone's position limit), for comparison.

Encoding time is measured per group of windows (texts that fit, first windows of long texts, their
further windows, the 512-token windows), so each encoding's cost is the sum of its groups, on the
same session in one process. Queries: the package's query length and pruning. Results are given on
all judged queries and on the dev / test halves (odd / even query ids); choose on dev.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from .runtime import ort_session, pad_batch

ENCODINGS = ("truncate", "passages", "window512")


def content_ids(pkg: Path, texts: list[str]) -> tuple[list[list[int]], list[int], list[int]]:
    """Untruncated content token ids (no specials) per text, and the prefix / suffix the tokenizer's
    post-processor adds (BERT: [CLS] / [SEP]); found the way the runtime finds them."""
    from .drift import tokenizer
    tok = tokenizer(pkg, None)
    bare = tok.encode("hello world", add_special_tokens=False).ids
    full = tok.encode("hello world").ids
    at = next(i for i in range(len(full)) if full[i:i + len(bare)] == bare)
    prefix, suffix = full[:at], full[at + len(bare):]
    return [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)], prefix, suffix


def windows(content: list[int], room: int, overlap: int, max_passages: int) -> list[list[int]]:
    """The runtime's passages (tokenize.ts): windows of `room` content tokens, `overlap` shared."""
    if len(content) <= room:
        return [content]
    overlap = min(max(0, overlap), room - 1)
    step, out, start = room - overlap, [], 0
    while True:
        out.append(content[start:start + room])
        if start + room >= len(content) or len(out) >= max_passages:
            return out
        start += step


def encode_group(sess, seqs: list[list[int]], batch: int) -> tuple[list, float]:
    """Sparse vectors (indices, values > 0) of each sequence, in the runtime's length buckets; seconds."""
    order = sorted(range(len(seqs)), key=lambda i: (len(seqs[i]), i))
    res: list = [None] * len(seqs)
    t0 = time.perf_counter()
    for a in range(0, len(order), batch):
        idx = order[a:a + batch]
        ids, mask = pad_batch([seqs[j] for j in idx])
        ind, val = sess.run(["indices", "values"], {"input_ids": ids, "attention_mask": mask})
        for r, j in enumerate(idx):
            keep = val[r] > 0
            res[j] = (ind[r][keep], val[r][keep])
    return res, time.perf_counter() - t0


def max_pool(vecs: list) -> tuple[np.ndarray, np.ndarray]:
    if len(vecs) == 1:
        return vecs[0]
    best: dict[int, float] = {}
    for ind, val in vecs:
        for i, v in zip(ind.tolist(), val.tolist()):
            if v > best.get(i, 0.0):
                best[i] = v
    ids = np.array(sorted(best), np.int64)
    return ids, np.array([best[i] for i in ids.tolist()], np.float32)


def compare(pkg: Path, name: str, max_passages: int, overlap: int | None, batch: int, threads: int,
            limit: int | None = None) -> dict:
    from .drift import load_collection, prune_topk, ranked_metrics, to_csr
    man = json.loads((pkg / "manifest.json").read_text())
    n = man["dictionary_size"]
    dk, qk = man["pruning"]["document"]["top_k"], man["pruning"]["query"]["top_k"]
    doc_len, query_len = man["max_length"]["document"], man["max_length"]["query"]
    sess = ort_session(pkg / man["graphs"]["document"]["file"], threads)
    corpus, queries, qrels = load_collection(name)
    if limit:
        corpus = corpus[:limit]
    contents, prefix, suffix = content_ids(pkg, [t for _, t in corpus])
    specials = len(prefix) + len(suffix)
    room = doc_len - specials
    ov = doc_len // 8 if overlap is None else overlap
    wrap = lambda c: prefix + c + suffix   # noqa: E731
    long_ = [i for i, c in enumerate(contents) if len(c) > room]
    short = [i for i, c in enumerate(contents) if 0 < len(c) <= room]
    per_doc = {i: windows(contents[i], room, ov, max_passages) for i in long_}
    # groups: texts that fit; first windows of long texts; their further windows; 512-token windows
    g_short, t_short = encode_group(sess, [wrap(contents[i]) for i in short], batch)
    g_first, t_first = encode_group(sess, [wrap(per_doc[i][0]) for i in long_], batch)
    extra_seqs = [(i, w) for i in long_ for w in per_doc[i][1:]]
    g_extra, t_extra = encode_group(sess, [wrap(w) for _, w in extra_seqs], batch)
    g_512, t_512 = encode_group(sess, [wrap(contents[i][:512 - specials]) for i in long_], batch)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.float32))
    docs = {e: [empty] * len(corpus) for e in ENCODINGS}
    for i, v in zip(short, g_short):
        for e in ENCODINGS:
            docs[e][i] = prune_topk(v, dk)
    extra: dict[int, list] = {}
    for (i, _), v in zip(extra_seqs, g_extra):
        extra.setdefault(i, []).append(v)
    for r, i in enumerate(long_):
        docs["truncate"][i] = prune_topk(g_first[r], dk)
        docs["passages"][i] = prune_topk(max_pool([g_first[r]] + extra.get(i, [])), dk)
        docs["window512"][i] = prune_topk(g_512[r], dk)
    qids = list(queries)
    qseqs = [wrap(c[:query_len - specials]) for c in content_ids(pkg, [queries[q] for q in qids])[0]]
    qv, _ = encode_group(sess, qseqs, batch)
    Q = to_csr([prune_topk(v, qk) for v in qv], n)
    seconds = {"truncate": t_short + t_first, "passages": t_short + t_first + t_extra, "window512": t_short + t_512}
    windows_n = {"truncate": len(short) + len(long_), "passages": len(short) + len(long_) + len(extra_seqs),
                 "window512": len(short) + len(long_)}
    out = dict(collection=name, documents=len(corpus), long_documents=len(long_), room=room, overlap=ov,
               max_passages=max_passages, clipped_by_max_passages=sum(
                   1 for i in long_ if len(per_doc[i]) == max_passages and
                   (len(per_doc[i]) - 1) * (room - ov) + room < len(contents[i])),
               over_512=sum(1 for i in long_ if len(contents[i]) > 512 - specials), encodings={})
    for e in ENCODINGS:
        S = (Q @ to_csr(docs[e], n).T).toarray()
        row = dict(seconds=round(seconds[e], 1), windows=windows_n[e],
                   docs_per_s=round(len(corpus) / seconds[e], 2) if seconds[e] else None,
                   nnz_per_doc=round(float(np.mean([len(d[0]) for d in docs[e]])), 1))
        row.update(ranked_metrics(S, qids, [d for d, _ in corpus], qrels,
                                  ("all", "dev", "test") if name != "scifact" else ("all",)))
        out["encodings"][e] = row
    return out


def cmd_compare(a):
    pkg = Path(a.package)
    out_path = Path(a.out) if a.out else None
    results = []
    for name in a.collections.split(","):
        t = time.time()
        r = compare(pkg, name, a.max_passages, a.overlap, a.batch, a.threads, a.limit)
        r["wall_s"] = round(time.time() - t, 1)
        results.append(r)
        print(json.dumps(r), flush=True)
        if out_path:   # partial results after each collection
            out_path.write_text(json.dumps(results, indent=1))
    return results


def main():
    p = argparse.ArgumentParser(prog="python -m saesplade_model.long_docs", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compare", help="nDCG@10 and encoding time of truncate / passages / window512")
    c.add_argument("package")
    c.add_argument("--collections", default="cisi,cacm,npl")
    c.add_argument("--max-passages", type=int, default=32, help="the runtime's default")
    c.add_argument("--overlap", type=int, default=None, help="content tokens shared (default max_length / 8)")
    c.add_argument("--batch", type=int, default=8)
    c.add_argument("--threads", type=int, default=2)
    c.add_argument("--limit", type=int, default=None, help="first N documents only (smoke runs)")
    c.add_argument("--out")
    c.set_defaults(fn=cmd_compare)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
