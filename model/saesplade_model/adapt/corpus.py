"""The corpus `adapt` learns from: JSONL (one object per line) or a BEIR folder holding corpus.jsonl.

Every problem is found before any training starts and named by file and line. A line that is not a JSON
object, or has no id, is an error (the file is probably not a corpus); a document whose text is empty is
skipped and counted, as `ingest` does."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

MIN_DOCUMENTS = 200       # below this, pseudo-queries, hard negatives and a held-back slice are too few
MIN_TOKENS_HINT = 20_000  # below this many whitespace words the corpus is refused as too small as well
MAX_BAD_LINES = 20        # lines quoted in the error


class CorpusError(ValueError):
    """The corpus cannot be adapted on (wrong format, too small); the message says where and why."""


@dataclass
class Corpus:
    path: Path
    ids: list[str]
    fields: list[tuple[str, str]]          # (title, text) per document
    sha256: str
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def texts(self) -> list[str]:
        return [(t + " " + x).strip() for t, x in self.fields]

    def __len__(self):
        return len(self.ids)


def corpus_file(path: Path) -> Path:
    if path.is_dir():
        f = path / "corpus.jsonl"
        if not f.exists():
            raise CorpusError(f"{path}: a folder must hold corpus.jsonl (BEIR layout); none found")
        return f
    if not path.exists():
        raise CorpusError(f"{path}: no such file")
    return path


def _id_of(obj: dict, id_field: str | None):
    for k in ([id_field] if id_field else ["_id", "id"]):
        v = obj.get(k)
        if isinstance(v, (str, int)) and not isinstance(v, bool) and str(v).strip():
            return str(v).strip()
    return None


def read_corpus(path: Path, id_field: str | None = None, text_fields: tuple[str, ...] = ("title", "text"),
                min_documents: int = MIN_DOCUMENTS) -> Corpus:
    f = corpus_file(Path(path).resolve())
    h = hashlib.sha256()
    ids, fields, bad, seen = [], [], [], set()
    skipped = {"empty_text": 0, "duplicate_id": 0}
    with open(f, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            h.update(raw)
            line = raw.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                bad.append(f"{f}:{n}: not JSON ({err.__class__.__name__}: {str(err)[:80]})")
                continue
            if not isinstance(obj, dict):
                bad.append(f"{f}:{n}: a {type(obj).__name__}, not a JSON object")
                continue
            doc_id = _id_of(obj, id_field)
            if doc_id is None:
                bad.append(f"{f}:{n}: no id (field {id_field or '_id or id'})")
                continue
            vals = []
            for k in text_fields:
                v = obj.get(k)
                if v is not None and not isinstance(v, str):
                    bad.append(f"{f}:{n}: field {k} is a {type(v).__name__}, not text")
                    break
                vals.append((v or "").strip())
            else:
                if doc_id in seen:
                    skipped["duplicate_id"] += 1
                    continue
                title, text = (vals[0], " ".join(vals[1:]).strip()) if len(vals) > 1 else ("", vals[0])
                if not (title or text):
                    skipped["empty_text"] += 1
                    continue
                seen.add(doc_id)
                ids.append(doc_id)
                fields.append((title, text))
    if bad:
        more = f" (and {len(bad) - MAX_BAD_LINES} more)" if len(bad) > MAX_BAD_LINES else ""
        raise CorpusError(f"{f}: {len(bad)} line(s) are not corpus documents{more}; nothing was trained:\n  "
                          + "\n  ".join(bad[:MAX_BAD_LINES]))
    words = sum(len(t.split()) + len(x.split()) for t, x in fields)
    min_words = int(MIN_TOKENS_HINT * min_documents / MIN_DOCUMENTS)
    if len(ids) < min_documents or words < min_words:
        raise CorpusError(f"{f}: {len(ids)} documents with text ({words} words); adapt needs at least "
                          f"{min_documents} documents and {min_words} "
                          f"words to learn from (pseudo-queries, hard negatives and a held-back slice come from them)")
    return Corpus(f, ids, fields, h.hexdigest(), skipped)
