"""Stage 2 with the backbone's last layer trained too, from cached inputs to that layer (issue 15).

    python -m saesplade_model.last_layer [steps=150] [layer_lr=5e-5] [head_lr=1e-3] [arms=frozen,layer]

The build's stage 2 trains the concept head on cached last-layer states: the backbone never learns. Here the
cache holds the *input* of the last transformer layer (hidden_states[-2]), and a copy of that layer runs in
the training loop, so it can learn from the ranking loss (at the cost of one layer's forward and backward
per step, instead of the whole backbone's).

Two arms from the same start, the shipped package's head (its int8 weights dequantized, as the graph holds
them) and the pretrained last layer, with the same data, seed, steps and head settings as the build's stage 2:
- `frozen`: the layer stays as pretrained (so this arm is "more head-only steps");
- `layer`: the layer trains with the head at `layer_lr`.
Both run through the same code path (the layer applied to the same cached inputs), so the difference is the
layer training alone. Scored on the dev split only (DevSplit.score through the layer: real odd-id queries of cisi, cacm and npl, a
re-ranking of a candidate pool, whole documents at 256 tokens); SciFact is not touched. Results:
work/last_layer_head{head_lr}.json (after each arm).
"""
from __future__ import annotations

import copy
import json
import sys
import time
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

from .backbone import Cache, encode_cache
from .common import DOC_MAX_LEN, PACKAGE_DIR, TRAIN_COLLECTIONS, WORK_DIR, load_backbone, poolable_table, set_threads
from .data import load_corpus


class StatesBefore(nn.Module):
    """The backbone, caching the last layer's input as `states` (the teacher embedding stays the last layer's)."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask):
        o = self.bert(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        return SimpleNamespace(last_hidden_state=o.last_hidden_state, states=o.hidden_states[-2])


def layer_gather(layer):
    """A stage2 `gather`: pads each text's cached layer inputs (first max_tokens), runs `layer` (with grad when
    training) and returns the flat token states, text ids and poolable mask, as gather_tokens does."""
    def gather(cache: Cache, rows, max_tokens: int, poolable):
        rows = np.asarray(rows)
        a = cache.offsets[rows]
        lens = np.minimum(cache.offsets[rows + 1] - a, max_tokens)
        L = int(lens.max())
        X = np.zeros((len(rows), L, cache.states.shape[1]), np.float32)
        M = np.zeros((len(rows), L), bool)
        ids = []
        for r, (s, n) in enumerate(zip(a, lens)):
            X[r, :n] = cache.states[s:s + n]
            M[r, :n] = True
            ids.append(cache.ids[s:s + n])
        Mt = torch.from_numpy(M)
        ext = (~Mt)[:, None, None, :].float() * torch.finfo(torch.float32).min
        Y = layer(torch.from_numpy(X), attention_mask=ext)
        Y = Y[0] if isinstance(Y, tuple) else Y
        seg = torch.repeat_interleave(torch.arange(len(rows)), torch.from_numpy(lens))
        keep = torch.from_numpy(poolable[np.concatenate(ids)])
        return Y[Mt], seg, keep
    return gather


@torch.no_grad()
def through_layer(layer, cache: Cache, chunk: int = 32) -> Cache:
    """The cache's texts' last-layer states, computed by `layer` from the cached inputs (whole texts)."""
    g = layer_gather(layer)
    poolable = poolable_table()
    parts = [g(cache, np.arange(a, min(len(cache), a + chunk)), 10_000, poolable)[0].numpy()
             for a in range(0, len(cache), chunk)]
    return Cache(np.concatenate(parts), cache.ids, cache.offsets, cache.emb)


def shipped_head():
    """A TopKSAE holding the shipped package's head (dequantized int8 encoder weights, biases, scale)."""
    from .drift import head_params
    from .sae import TopKSAE
    man = json.loads((PACKAGE_DIR / "manifest.json").read_text())
    p = head_params(PACKAGE_DIR / man["graphs"]["document"]["file"])
    sae = TopKSAE(n=p["W"].shape[1], k=p["k"])
    with torch.no_grad():
        sae.W_enc.copy_(torch.from_numpy(p["W"].T.copy()))
        sae.W_dec.copy_(sae.W_enc)   # unused by stage 2 (no reconstruction term)
        sae.b_enc.copy_(torch.from_numpy(p["b_enc"]))
        sae.b_dec.copy_(torch.from_numpy(p["b_dec"]))
        sae.log_scale.fill_(float(np.log(p["scale"])))
    return sae


def doc_caches(model) -> dict[str, Cache]:
    out = {}
    for n in TRAIN_COLLECTIONS:
        p = WORK_DIR / f"cache_{n}_doc{DOC_MAX_LEN}_lastinput.npz"
        if p.exists():
            out[n] = Cache.load(p)
            continue
        out[n] = encode_cache(load_corpus(n)[1], DOC_MAX_LEN, model=model)
        out[n].save(p)
    return out


def main(steps: int = 150, layer_lr: float = 5e-5, arms: str = "frozen,layer", head_lr: float = 1e-3):
    from . import full
    from .stage2 import train_stage2
    set_threads()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    bert = load_backbone()
    model = StatesBefore(bert)
    caches = doc_caches(model)
    print(f"  caches of the last layer's input: {time.time() - t0:.0f} s", flush=True)
    # the layer applied to cached inputs must give the backbone's own last-layer states
    c = caches["cisi"]
    with torch.no_grad():
        ref = encode_cache(load_corpus("cisi")[1][:4], DOC_MAX_LEN, model=bert).states.astype(np.float32)
    got = through_layer(bert.encoder.layer[-1], c.subset(np.arange(4))).states
    cos = float(np.mean(np.sum(ref * got, 1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1))))
    print(f"  check: layer on cached inputs vs backbone, mean token cosine {cos:.5f}", flush=True)
    assert cos > 0.999, cos
    dev = full.DevSplit(caches, model)
    data, devslice = full.build_stage2_data(caches, model, 13, teacher="fused")
    print(f"  data ready: {time.time() - t0:.0f} s", flush=True)
    results = dict(steps=steps, layer_lr=layer_lr, head_lr=head_lr, check_cosine=cos, arms={})
    step0 = {}
    for arm in arms.split(","):
        torch.manual_seed(13)
        sae = shipped_head()
        layer = copy.deepcopy(bert.encoder.layer[-1])
        layer.train(False)   # no dropout: the layer trains deterministically, like the head
        for p in layer.parameters():
            p.requires_grad_(arm == "layer")
        groups = [{"params": list(layer.parameters()), "lr": layer_lr}] if arm == "layer" else []

        calls, last = [0], {}

        def dev_fn(s, layer=layer, calls=calls, last=last):
            calls[0] += 1
            if calls[0] == 1 and step0:   # both arms start from the same weights: step 0 is measured once
                return step0["mean"]
            mean, per = dev.score(s, per_collection=True, through=lambda c: through_layer(layer, c))
            (step0 if not step0 else last).update(mean=mean, per=per)
            return mean
        ta = time.time()
        r = train_stage2(sae, data, devslice, steps=steps, seed=13, lr=head_lr, dev_fn=dev_fn, dev_every=steps,
                         eval_every=steps, gather=layer_gather(layer), extra_groups=groups)
        # the weights at the end of training (train_stage2 leaves them in sae and the layer)
        results["arms"][arm] = dict(dev_step0=step0["mean"], dev_step0_per=step0["per"], dev_final=last["mean"],
                                    dev_final_per=last["per"], seconds=round(time.time() - ta, 1),
                                    s_per_step=round(r["time_s"] / max(1, r["steps_done"]), 2),
                                    log=r["log"][-3:], evals=r["evals"])
        torch.save({"sae": sae.state_dict(), "layer": layer.state_dict()}, WORK_DIR / f"last_layer_{arm}.pt")
        (WORK_DIR / f"last_layer_head{head_lr:g}.json").write_text(json.dumps(results, indent=1))
        print(json.dumps({k: v for k, v in results["arms"][arm].items() if k not in ("evals", "log")}), flush=True)
    print(f"  done in {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    kw = dict(a.split("=", 1) for a in sys.argv[1:])
    main(int(kw.get("steps", 150)), float(kw.get("layer_lr", 5e-5)), kw.get("arms", "frozen,layer"),
         float(kw.get("head_lr", 1e-3)))
