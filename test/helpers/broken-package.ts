/**
 * Deliberately broken copies of a model package, made at test time from the committed one (a 30 MB
 * graph per fixture would not belong in the repository). Each models a real regression that the
 * golden check must catch: one wrong weight in the concept head, a wrong pooling, a tokenizer change.
 * The graph is patched at the byte level in fields whose length does not change, so the protobuf stays
 * valid without an ONNX library.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type Breakage =
  | { kind: 'weight'; concept: number; delta: number }
  | { kind: 'pooling' }
  | { kind: 'tokenizer' };

/** b_enc's TensorProto: name (field 8) "b_enc", then raw_data (field 9) with a varint length. */
function rawDataOffset(graph: Buffer, name: string): { offset: number; length: number } {
  const tag = Buffer.concat([Buffer.from([0x42, name.length]), Buffer.from(name, 'latin1'), Buffer.from([0x4a])]);
  const at = graph.indexOf(tag);
  if (at < 0 || graph.indexOf(tag, at + 1) >= 0) throw new Error(`initializer ${name}: not found exactly once`);
  let p = at + tag.length;
  let length = 0;
  for (let shift = 0; ; shift += 7) {
    const b = graph[p++]!;
    length |= (b & 0x7f) << shift;
    if (!(b & 0x80)) break;
  }
  return { offset: p, length };
}

function patchGraph(graph: Buffer, b: Breakage): void {
  if (b.kind === 'weight') {
    const { offset, length } = rawDataOffset(graph, 'b_enc');
    if ((b.concept + 1) * 4 > length) throw new Error(`concept ${b.concept} outside b_enc (${length / 4})`);
    const at = offset + b.concept * 4;
    graph.writeFloatLE(graph.readFloatLE(at) + b.delta, at);
  } else if (b.kind === 'pooling') {
    // the ScatterElements attribute reduction="max" (AttributeProto.s, field 4) -> "add": sum pooling
    const at = graph.indexOf(Buffer.from('reduction"\x03max', 'latin1'));
    if (at < 0) throw new Error('ScatterElements reduction="max" not found');
    graph.write('add', at + 'reduction"\x03'.length, 'latin1');
  }
}

/** Writes a broken copy of `srcDir` into a temporary directory; returns it and a cleanup. */
export function brokenPackage(srcDir: string, b: Breakage): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `saesplade-broken-${b.kind}-`));
  const manifest = JSON.parse(readFileSync(path.join(srcDir, 'manifest.json'), 'utf8')) as {
    tokenizer: string;
    graphs: Record<string, { file: string }>;
  };
  const graphs = new Set(Object.values(manifest.graphs).map((g) => g.file));
  for (const f of readdirSync(srcDir)) {
    if (graphs.has(f)) {
      const g = readFileSync(path.join(srcDir, f));
      patchGraph(g, b);
      writeFileSync(path.join(dir, f), g);
    } else copyFileSync(path.join(srcDir, f), path.join(dir, f));
  }
  if (b.kind === 'tokenizer') {
    const file = path.join(dir, manifest.tokenizer);
    const tok = JSON.parse(readFileSync(file, 'utf8')) as { normalizer: { lowercase?: boolean } };
    tok.normalizer.lowercase = false; // a cased tokenizer in front of an uncased model
    writeFileSync(file, JSON.stringify(tok));
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
