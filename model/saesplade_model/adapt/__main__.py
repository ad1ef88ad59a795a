"""python -m saesplade_model.adapt --corpus <JSONL | BEIR folder> [--from <package>] --out <dir>

Learns a corpus without labels and writes a new model package (what `saesplade adapt` runs). Exit codes:
0 written; 2 bad input (corpus, package, output folder), nothing trained; 3 --require-better and the adapted
model is not better on the held-back pseudo-queries, nothing written; 1 anything else."""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

EXIT_BAD_INPUT, EXIT_NOT_BETTER = 2, 3


def _slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")[:40] or "corpus"


def default_base() -> Path:
    return Path(__file__).resolve().parents[3] / "models" / "default"


def parse(argv=None):
    ap = argparse.ArgumentParser(prog="python -m saesplade_model.adapt", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, required=True, help="JSONL ({_id|id, title, text} per line) or a BEIR folder")
    ap.add_argument("--from", dest="base", type=Path, default=None, help="base package (default: models/default)")
    ap.add_argument("--out", type=Path, required=True, help="folder of the new package (must not hold a package)")
    ap.add_argument("--name", default=None, help="package name (default: <base name>-adapted-<corpus name>)")
    ap.add_argument("--steps", type=int, default=300, help="stage-2 steps (default 300)")
    ap.add_argument("--lr", type=float, default=None, help="stage-2 learning rate (default 1e-3)")
    ap.add_argument("--lam-q", type=float, default=None, help="FLOPS weight on queries (default 0.006)")
    ap.add_argument("--lam-d", type=float, default=None, help="FLOPS weight on documents (default 0.004)")
    ap.add_argument("--eval-every", type=int, default=None, help="held-back evaluation every n steps (default 100)")
    ap.add_argument("--max-docs", type=int, default=0, help="learn from the first N documents only (0: all)")
    ap.add_argument("--queries-per-doc", type=float, default=1.0, help="pseudo-queries per document (default 1)")
    ap.add_argument("--held-back", type=int, default=120, help="held-back pseudo-queries (default 120)")
    ap.add_argument("--min-documents", type=int, default=None, help="refuse smaller corpora (default 200)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("SAESPLADE_THREADS", "2")))
    ap.add_argument("--work", type=Path, default=None, help="checkpoints and caches (default <out>.work); a run "
                    "started again with the same arguments resumes from them")
    ap.add_argument("--keep-work", action="store_true", help="keep the work folder after a successful run")
    ap.add_argument("--require-better", action="store_true",
                    help="write nothing unless the adapted model beats its base on the held-back pseudo-queries")
    ap.add_argument("--no-query-table", action="store_true", help="skip the inference-free query table")
    ap.add_argument("--force", action="store_true", help="replace a package already in --out")
    ap.add_argument("--events", action="store_true", help="JSON lines on stdout (for saesplade adapt)")
    return ap.parse_args(argv)


def fail(rep, code: int, msg: str):
    rep.result({"ok": False, "exit_code": code, "error": msg})
    print(f"saesplade adapt: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


def main(argv=None):
    a = parse(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
    from .corpus import MIN_DOCUMENTS, CorpusError, read_corpus
    from .graph import PackageError, backbone_bytes, load_graph, poolable_of, read_head, read_manifest, write_head
    from .progress import Reporter
    from .states import States, encode_states
    from .teacher import FusedTeacher
    from .train import Settings, TrainData, train
    from ..pseudo import pseudo_queries_of
    from ..runtime import ort_session

    rep = Reporter(a.events)
    t_start = time.time()
    timings: dict[str, float] = {}
    base = (a.base or default_base()).resolve()
    # ---- every input is checked before any work -------------------------------------------------
    try:
        bm = read_manifest(base)
        graph = load_graph(base)
        head = read_head(graph)
    except (OSError, PackageError, KeyError, json.JSONDecodeError) as err:
        fail(rep, EXIT_BAD_INPUT, f"base package {base}: {err}")
    try:
        corpus = read_corpus(a.corpus, min_documents=a.min_documents or MIN_DOCUMENTS)
    except CorpusError as err:
        fail(rep, EXIT_BAD_INPUT, str(err))
    if a.max_docs and len(corpus) > a.max_docs:
        corpus.ids, corpus.fields = corpus.ids[:a.max_docs], corpus.fields[:a.max_docs]
    out = a.out.resolve()
    if (out / "manifest.json").exists() and not a.force:
        fail(rep, EXIT_BAD_INPUT, f"{out} already holds a package (--force replaces it)")
    if out == base:
        fail(rep, EXIT_BAD_INPUT, "--out is the base package itself")
    work = (a.work or out.with_name(out.name + ".work")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    settings = Settings(steps=a.steps, seed=a.seed,
                        **{k: v for k, v in (("lr", a.lr), ("lam_q", a.lam_q), ("lam_d", a.lam_d),
                                             ("eval_every", a.eval_every)) if v is not None})
    # the checksum is the whole file's; with --max-docs the record's document count says how much of it was used
    key = {"base": f"{bm['name']}@{bm['version']}", "corpus_sha256": corpus.sha256, "documents": len(corpus),
           "queries_per_doc": a.queries_per_doc, "held_back": a.held_back, "seed": a.seed}
    kf = work / "run.json"
    if kf.exists() and json.loads(kf.read_text()) != key:
        rep.log(f"{work} holds a run of other inputs: starting afresh")
        for f in work.iterdir():
            f.unlink()
    kf.write_text(json.dumps(key))
    rep.log(f"base {bm['name']} {bm['version']}; corpus {corpus.path} ({len(corpus)} documents, "
            f"sha256 {corpus.sha256[:12]}, skipped {corpus.skipped}); work folder {work}")

    # ---- backbone states (cached in the work folder) ---------------------------------------------
    t = time.time()
    session = ort_session(backbone_bytes(graph), a.threads)
    poolable = poolable_of(graph)
    tok = base / bm["tokenizer"]
    doc_file = work / "docs.npz"
    if doc_file.exists():
        docs = States.load(doc_file)
        rep.log("document states: reused from the work folder")
    else:
        docs = encode_states(session, tok, corpus.texts, bm["max_length"]["document"], poolable, keep_tokens=128,
                             reporter=rep, stage="encode documents")
        docs.save(doc_file)
    timings["encode_documents_s"] = round(time.time() - t, 1)

    t = time.time()
    rng = np.random.default_rng(a.seed)
    pq = pseudo_queries_of(corpus.fields, a.queries_per_doc, rng)
    q_pos = np.array([d for d, _ in pq], np.int64)
    q_texts = [q for _, q in pq]
    q_file = work / "queries.npz"
    if q_file.exists():
        qs = States.load(q_file)
        rep.log("pseudo-query states: reused from the work folder")
    else:
        qs = encode_states(session, tok, q_texts, bm["max_length"]["query"], poolable, keep_tokens=10_000,
                           reporter=rep, stage="encode pseudo-queries")
        qs.save(q_file)
    timings["encode_queries_s"] = round(time.time() - t, 1)

    # ---- teacher: hard negatives and normalisation per pseudo-query --------------------------------
    t = time.time()
    teacher = FusedTeacher(corpus.texts, docs.emb)
    q_tokens = teacher.query_tokens(q_texts)
    t_file = work / "teacher.npz"
    if t_file.exists():
        z = np.load(t_file)
        ranges, negs = z["ranges"], z["negs"]
    else:
        rep.start("teacher (dense + BM25)", len(q_texts), "queries")
        ranges, negs = teacher.stats(qs.emb, q_tokens, q_pos, reporter=rep)
        rep.done()
        np.savez(t_file, ranges=ranges, negs=negs)
    timings["teacher_s"] = round(time.time() - t, 1)
    # queries with no token the head pools cannot train anything
    usable = np.nonzero(np.diff(qs.offsets) > 0)[0]
    perm = np.random.default_rng(a.seed + 1).permutation(usable)
    n_held = min(a.held_back, max(10, len(perm) // 10))
    held, train_rows = np.sort(perm[:n_held]), np.sort(perm[n_held:])
    pool = np.unique(np.concatenate([q_pos[held], negs[held, :10].ravel()]))
    data = TrainData(docs, qs, q_pos, q_tokens, ranges, negs, train_rows, held, pool)
    rep.log(f"{len(q_texts)} pseudo-queries: {len(train_rows)} to train on, {len(held)} held back "
            f"(evaluation pool {len(pool)} documents)")

    # ---- stage 2 -----------------------------------------------------------------------------
    t = time.time()
    best, log, evals, best_step = train(head, data, teacher, settings, work / "stage2.npz", rep)
    timings["stage2_s"] = round(time.time() - t, 1)
    base_ev = next(e for e in evals if e["step"] == 0)
    best_ev = next((e for e in evals if e["step"] == best_step), base_ev)
    better = best_step > 0 and best_ev["teacher_ndcg10"] > base_ev["teacher_ndcg10"]
    verdict = (f"adapted model {'IS' if better else 'is NOT'} better than its base on {base_ev['queries']} "
               f"held-back pseudo-queries: teacher agreement nDCG@10 {best_ev['teacher_ndcg10']} vs "
               f"{base_ev['teacher_ndcg10']}, known-item MRR@10 {best_ev['known_item_mrr10']} vs "
               f"{base_ev['known_item_mrr10']} (step {best_step} of {settings.steps})")
    rep.log(verdict)
    if a.require_better and not better:
        fail(rep, EXIT_NOT_BETTER, verdict + "; --require-better: no package written")

    # ---- the package ---------------------------------------------------------------------------
    t = time.time()
    name = a.name or f"{bm['name']}-adapted-{_slug(corpus.path.parent.name if corpus.path.name == 'corpus.jsonl' else corpus.path.stem)}"
    version = f"{bm['version']}-adapt.{corpus.sha256[:8]}"
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    graph_file = bm["graphs"]["document"]["file"]
    if best_step == 0:   # no step beat the base on the held-back queries: its graph, byte for byte
        shutil.copyfile(base / graph_file, tmp / graph_file)
    else:
        write_head(graph, best, tmp / graph_file)
    for f in {bm["tokenizer"], bm.get("concepts") or "", "LICENSE"} - {""}:
        if (base / f).exists():
            shutil.copyfile(base / f, tmp / f)
    m = {k: v for k, v in bm.items() if k != "query_table"}
    m["name"], m["version"] = name, version
    elapsed = round(time.time() - t_start, 1)
    record = {"base": {"name": bm["name"], "version": bm["version"]},
              "corpus": {"path": str(corpus.path), "sha256": corpus.sha256, "documents": len(corpus),
                         "skipped": corpus.skipped},
              "settings": asdict(settings) | {"queries_per_doc": a.queries_per_doc, "held_back": len(held),
                                              "max_docs": a.max_docs or None,
                                              "pseudo_queries": len(q_texts)},
              "held_back": {"base": base_ev, "adapted": best_ev, "better": better, "best_step": best_step},
              "timings_s": timings, "seconds": elapsed,
              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    m["adapted"] = record
    (tmp / "manifest.json").write_text(json.dumps(m, indent=2) + "\n")
    from ..golden import write_golden
    write_golden(tmp)
    if not a.no_query_table and bm.get("query_table"):
        from ..query_table import build
        build(tmp, bm["query_table"]["k"], a.threads)
    (tmp / "PROVENANCE.md").write_text(provenance(record, bm, name, version))
    (tmp / "stage2_log.json").write_text(json.dumps({"log": log, "evals": evals}, indent=1) + "\n")
    from ..check import check
    errors = check(tmp)
    if errors:
        fail(rep, 1, f"the written package fails its checks ({errors} error(s)); left in {tmp}")
    timings["package_s"] = round(time.time() - t, 1)
    if out.exists():
        shutil.rmtree(out)
    tmp.replace(out)
    record["seconds"] = round(time.time() - t_start, 1)
    record["timings_s"] = timings
    m["adapted"] = record
    (out / "manifest.json").write_text(json.dumps(m, indent=2) + "\n")
    if not a.keep_work:
        shutil.rmtree(work, ignore_errors=True)
    rep.log(f"wrote {out} ({name} {version}) in {record['seconds']} s")
    rep.result({"ok": True, "exit_code": 0, "package": str(out), "name": name, "version": version,
                "better": better, "held_back": record["held_back"], "seconds": record["seconds"],
                "timings_s": timings, "peak_rss_mb": record["peak_rss_mb"]})


def provenance(r: dict, bm: dict, name: str, version: str) -> str:
    hb = r["held_back"]
    return f"""# {name} {version}

Adapted by `saesplade adapt` from **{bm['name']} {bm['version']}** on a user corpus, without labels.
This is not the base model: its name and version say so, and the index guard refuses to mix the two.

- Corpus: `{r['corpus']['path']}`, {r['corpus']['documents']} documents, sha256 `{r['corpus']['sha256']}`.
- What changed: the concept encoder (W_enc, b_enc, b_dec, scale), by stage 2 on {r['settings']['pseudo_queries']}
  pseudo-queries drawn from the corpus's own documents, distilling the label-free fused teacher
  (0.5 dense all-MiniLM-L6-v2 cosine + 0.5 stemmed BM25, min-max over each query's top 100). The backbone, the
  concept dictionary (what the labels in concepts.json describe), the pooling and the output top-k are the base's.
- Settings: `{json.dumps(r['settings'])}`.
- Held-back pseudo-queries ({hb['base']['queries']}, never trained on): teacher agreement nDCG@10
  {hb['adapted']['teacher_ndcg10']} (base {hb['base']['teacher_ndcg10']}), known-item MRR@10
  {hb['adapted']['known_item_mrr10']} (base {hb['base']['known_item_mrr10']}); better: {hb['better']}
  (checkpoint: step {hb['best_step']}).
- Time: {r['seconds']} s ({json.dumps(r['timings_s'])}); peak memory {r['peak_rss_mb']} MB.
"""


if __name__ == "__main__":
    main()
