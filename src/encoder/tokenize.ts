import { Tokenizer } from '@huggingface/tokenizers';

/** One model input: token ids including the special tokens, at most the mode's maximum length. */
export interface TokenizedText {
  ids: number[];
  /** Tokens the text had (with specials) before truncation or splitting. */
  fullLength: number;
  truncated: boolean;
}

export interface PassageOptions {
  /** Tokens shared by consecutive windows (content tokens, without specials). */
  overlap: number;
  /** At most this many passages per text; the rest of the text is dropped (counted as truncated). */
  maxPassages: number;
}

/** A letter or digit in any script: text without one (empty, whitespace, punctuation) encodes to an empty vector. */
const CONTENTFUL = /[\p{L}\p{N}]/u;

export function hasContent(text: string): boolean {
  return CONTENTFUL.test(text);
}

/**
 * Tokenization per the package contract: `@huggingface/tokenizers` applies neither the truncation
 * nor the padding that a tokenizer.json may carry, so this truncates explicitly to `maxLength`
 * tokens *including* the special tokens, the way Python's `enable_truncation(maxLength)` does for a
 * single sequence (drop from the right, keep [CLS] … [SEP]).
 */
export class TextTokenizer {
  private readonly tok: Tokenizer;
  /** Special tokens the post-processor puts before / after a single sequence (BERT: [CLS] / [SEP]). */
  readonly prefix: number[];
  readonly suffix: number[];

  constructor(tokenizerJson: object) {
    this.tok = new Tokenizer(tokenizerJson, {});
    const probe = 'hello world';
    const bare = this.tok.encode(probe, { add_special_tokens: false }).ids;
    const full = this.tok.encode(probe, { add_special_tokens: true }).ids;
    const at = findSub(full, bare);
    if (at < 0) throw new Error('tokenizer post-processor does not keep the text tokens contiguous');
    this.prefix = full.slice(0, at);
    this.suffix = full.slice(at + bare.length);
  }

  get specials(): number {
    return this.prefix.length + this.suffix.length;
  }

  /** Content token ids (no special tokens), untruncated. Empty for text without letters or digits. */
  content(text: string): number[] {
    if (!hasContent(text)) return [];
    return this.tok.encode(text, { add_special_tokens: false }).ids;
  }

  wrap(content: number[]): number[] {
    return [...this.prefix, ...content, ...this.suffix];
  }

  /** Truncated model input for one text; `ids` is empty when the text has no content. */
  encode(text: string, maxLength: number): TokenizedText {
    const c = this.content(text);
    if (c.length === 0) return { ids: [], fullLength: 0, truncated: false };
    const room = Math.max(1, maxLength - this.specials);
    const truncated = c.length > room;
    return { ids: this.wrap(truncated ? c.slice(0, room) : c), fullLength: c.length + this.specials, truncated };
  }

  /**
   * Splits a long text into windows of at most `maxLength` tokens (specials included) that overlap
   * by `overlap` content tokens. A text that fits gives one passage.
   */
  passages(text: string, maxLength: number, opts: PassageOptions): { passages: number[][]; fullLength: number; truncated: boolean } {
    const c = this.content(text);
    if (c.length === 0) return { passages: [], fullLength: 0, truncated: false };
    const room = Math.max(1, maxLength - this.specials);
    const fullLength = c.length + this.specials;
    if (c.length <= room) return { passages: [this.wrap(c)], fullLength, truncated: false };
    const overlap = Math.min(Math.max(0, Math.floor(opts.overlap)), room - 1);
    const step = room - overlap;
    const out: number[][] = [];
    let start = 0;
    for (;;) {
      out.push(this.wrap(c.slice(start, start + room)));
      if (start + room >= c.length) break;
      if (out.length >= opts.maxPassages) return { passages: out, fullLength, truncated: true };
      start += step;
    }
    return { passages: out, fullLength, truncated: false };
  }

  tokenString(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }
}

function findSub(hay: number[], needle: number[]): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
