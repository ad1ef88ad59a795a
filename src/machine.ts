/**
 * The machine a measurement ran on, for reports (`eval`, `bench encoder|ingest|query`,
 * scripts/bench-all.sh): CPU model and the vector extensions its float kernels may use. ONNX
 * Runtime picks GEMM, exp and erf kernels by these (AVX2, AVX-512, VNNI, AMX on x86; NEON, SVE,
 * dot-product and i8mm on Arm), so speed, and in the last bits the vectors themselves, differ
 * between CPUs: a figure is comparable with another only when both name the same machine.
 *
 * Linux: `/proc/cpuinfo` (`model name` and `flags` on x86, `Features` on Arm). Elsewhere the flags
 * are reported as unknown (`cpuFlagsSource: "unavailable"`) and the model comes from `os.cpus()`.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

/**
 * The flags reported (in this order), of the many /proc/cpuinfo lists: those that change which
 * SIMD kernels run. x86 first, then Arm's `Features` names.
 */
export const VECTOR_FLAGS = [
  // x86
  'sse4_2',
  'avx',
  'fma',
  'f16c',
  'avx2',
  'avx_vnni',
  'avx512f',
  'avx512dq',
  'avx512cd',
  'avx512bw',
  'avx512vl',
  'avx512ifma',
  'avx512vbmi',
  'avx512_vbmi2',
  'avx512_vnni',
  'avx512_bf16',
  'avx512_fp16',
  'amx_tile',
  'amx_int8',
  'amx_bf16',
  'amx_fp16',
  // Arm (aarch64 /proc/cpuinfo `Features`)
  'asimd',
  'asimdhp',
  'asimddp',
  'i8mm',
  'bf16',
  'sve',
  'sve2',
  'sme',
] as const;

export interface CpuInfo {
  /** `model name` (x86) or `Model`/`Hardware` (Arm boards), when the text has one. */
  model?: string;
  /** Every flag of the first processor, as written (lower case). */
  flags: string[];
}

/** Parses /proc/cpuinfo text: the first processor's model name and flags (x86 `flags`, Arm `Features`). */
export function parseCpuinfo(text: string): CpuInfo {
  let model: string | undefined;
  let flags: string[] | undefined;
  for (const raw of text.split('\n')) {
    const i = raw.indexOf(':');
    if (i < 0) continue;
    const key = raw.slice(0, i).trim().toLowerCase();
    const value = raw.slice(i + 1).trim();
    if (model === undefined && (key === 'model name' || key === 'cpu model' || key === 'hardware' || key === 'model') && value && !/^\d+$/.test(value)) {
      model = value;
    }
    if (flags === undefined && (key === 'flags' || key === 'features')) flags = value.toLowerCase().split(/\s+/).filter(Boolean);
    if (model !== undefined && flags !== undefined) break;
  }
  return { ...(model !== undefined ? { model } : {}), flags: flags ?? [] };
}

/** The vector extensions among `flags`, in VECTOR_FLAGS order. */
export function vectorFlags(flags: readonly string[]): string[] {
  const have = new Set(flags.map((f) => f.toLowerCase()));
  return VECTOR_FLAGS.filter((f) => have.has(f));
}

/**
 * One word for the widest vector unit: `amx`, `avx512`, `avx2`, `avx`, `sse`, `sve2`, `sve`,
 * `neon`, or `unknown` (no flags). Two machines with different words run different kernels.
 */
export function vectorLevel(flags: readonly string[]): string {
  const f = new Set(flags);
  if (f.has('amx_tile')) return 'amx';
  if (f.has('avx512f')) return 'avx512';
  if (f.has('avx2')) return 'avx2';
  if (f.has('avx')) return 'avx';
  if (f.has('sve2')) return 'sve2';
  if (f.has('sve')) return 'sve';
  if (f.has('asimd')) return 'neon';
  if (f.has('sse4_2')) return 'sse';
  return 'unknown';
}

export interface MachineInfo {
  /** Cores Node may use (`os.availableParallelism()`). */
  cpus: number;
  cpuModel: string;
  /** The vector extensions the CPU reports (VECTOR_FLAGS order); [] when unknown. */
  cpuFlags: string[];
  /** The widest of them, in one word (`vectorLevel`). */
  vectorLevel: string;
  /** Where the flags came from: `/proc/cpuinfo`, or `unavailable` (not Linux, or unreadable). */
  cpuFlagsSource: string;
  arch: string;
  memGiB: number;
  node: string;
  platform: string;
}

/** Describes this machine. `cpuinfoText` replaces reading /proc/cpuinfo (tests). */
export function machineInfo(cpuinfoText?: string): MachineInfo {
  let text = cpuinfoText;
  if (text === undefined && os.platform() === 'linux') {
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      text = undefined;
    }
  }
  const parsed = text !== undefined ? parseCpuinfo(text) : { flags: [] as string[] };
  const cpuFlags = vectorFlags(parsed.flags);
  const fromOs = os.cpus()[0]?.model?.trim();
  return {
    cpus: typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length,
    cpuModel: parsed.model ?? (fromOs || 'unknown'),
    cpuFlags,
    vectorLevel: vectorLevel(cpuFlags),
    cpuFlagsSource: text !== undefined && parsed.flags.length > 0 ? '/proc/cpuinfo' : 'unavailable',
    arch: os.arch(),
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

/**
 * `AMD EPYC, x64, 2 CPUs; vector extensions avx2 avx512f … (avx512)`: one line for reports. Copes
 * with results written before the flags were recorded (they read "vector extensions unknown").
 */
export function describeCpu(m: Partial<Pick<MachineInfo, 'cpus' | 'cpuModel' | 'cpuFlags' | 'vectorLevel' | 'arch'>>): string {
  const ext = m.cpuFlags?.length ? `vector extensions ${m.cpuFlags.join(' ')} (${m.vectorLevel ?? vectorLevel(m.cpuFlags)})` : 'vector extensions unknown';
  const head = [m.cpuModel ?? 'unknown CPU', m.arch, m.cpus !== undefined ? `${m.cpus} CPUs` : undefined].filter(Boolean).join(', ');
  return `${head}; ${ext}`;
}
