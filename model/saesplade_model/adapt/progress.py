"""What a run says while it works: one JSON object per line on stdout when driven by `saesplade adapt`
(--events), else a plain progress line per stage on stderr. Every stage reports done/total and an ETA."""
from __future__ import annotations

import json
import sys
import time


class Reporter:
    def __init__(self, events: bool):
        self.events = events
        self.stage = None
        self.t0 = self.last = 0.0

    def _emit(self, obj: dict):
        if self.events:
            sys.stdout.write(json.dumps(obj) + "\n")
            sys.stdout.flush()

    def log(self, msg: str, **kw):
        if self.events:
            self._emit({"event": "log", "msg": msg, **kw})
        else:
            print(f"[adapt] {msg}", file=sys.stderr, flush=True)

    def start(self, stage: str, total: int, unit: str = ""):
        self.stage, self.total, self.unit = stage, max(1, int(total)), unit
        self.t0 = self.last = time.time()
        self.progress(0)

    def progress(self, done: int, **extra):
        now = time.time()
        if done < self.total and now - self.last < 1.0 and done > 0:
            return
        self.last = now
        el = now - self.t0
        eta = el / done * (self.total - done) if done > 0 else None
        if self.events:
            self._emit({"event": "progress", "stage": self.stage, "done": int(done), "total": self.total,
                        "unit": self.unit, "elapsed_s": round(el, 1),
                        "eta_s": None if eta is None else round(eta, 1), **extra})
        else:
            pct = 100.0 * done / self.total
            e = "?" if eta is None else f"{eta:.0f}s"
            more = " ".join(f"{k}={v}" for k, v in extra.items())
            print(f"[adapt] {self.stage}: {done}/{self.total} {self.unit} ({pct:.0f}%) "
                  f"elapsed {el:.0f}s eta {e} {more}", file=sys.stderr, flush=True)

    def done(self, **extra):
        self.progress(self.total, **extra)
        return time.time() - self.t0

    def result(self, obj: dict):
        self._emit({"event": "result", **obj})
