import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config.js';
import { describeCpu, machineInfo, parseCpuinfo, vectorFlags, vectorLevel } from '../../src/machine.js';

const fixture = (name: string) => readFileSync(path.join(PACKAGE_ROOT, 'test', 'fixtures', 'cpuinfo', name), 'utf8');

describe('cpuinfo parsing', () => {
  it('Sapphire Rapids Xeon: model, AVX-512 with VNNI/BF16/FP16 and AMX', () => {
    const c = parseCpuinfo(fixture('xeon-amx.txt'));
    expect(c.model).toBe('Intel(R) Xeon(R) Platinum 8480+');
    expect(vectorFlags(c.flags)).toEqual([
      'sse4_2', 'avx', 'fma', 'f16c', 'avx2', 'avx_vnni',
      'avx512f', 'avx512dq', 'avx512cd', 'avx512bw', 'avx512vl', 'avx512ifma', 'avx512vbmi', 'avx512_vbmi2',
      'avx512_vnni', 'avx512_bf16', 'avx512_fp16', 'amx_tile', 'amx_int8', 'amx_bf16',
    ]);
    expect(vectorLevel(vectorFlags(c.flags))).toBe('amx');
  });

  it('EPYC (a development machine, copied as is): AVX-512 and VNNI, no AMX', () => {
    const c = parseCpuinfo(fixture('epyc-avx512.txt'));
    expect(c.model).toBe('AMD EPYC'); // not the numeric `model : 2` line before it
    const v = vectorFlags(c.flags);
    expect(v).toContain('avx512f');
    expect(v).toContain('avx512_vnni');
    expect(v).toContain('avx_vnni');
    expect(v.filter((f) => f.startsWith('amx'))).toEqual([]);
    expect(vectorLevel(v)).toBe('avx512');
  });

  it('Haswell Xeon: AVX2 and FMA only', () => {
    const c = parseCpuinfo(fixture('xeon-e5-avx2.txt'));
    expect(c.model).toBe('Intel(R) Xeon(R) CPU E5-2676 v3 @ 2.40GHz');
    expect(vectorFlags(c.flags)).toEqual(['sse4_2', 'avx', 'fma', 'f16c', 'avx2']);
    expect(vectorLevel(vectorFlags(c.flags))).toBe('avx2');
  });

  it('aarch64: Features instead of flags, no model name', () => {
    const c = parseCpuinfo(fixture('arm64-neoverse-v1.txt'));
    expect(c.model).toBeUndefined();
    expect(vectorFlags(c.flags)).toEqual(['asimd', 'asimdhp', 'asimddp', 'i8mm', 'bf16', 'sve']);
    expect(vectorLevel(vectorFlags(c.flags))).toBe('sve');
  });

  it('reads only the first processor, and copes with empty or foreign text', () => {
    const two = 'processor : 0\nmodel name : First\nflags : avx2\n\nprocessor : 1\nmodel name : Second\nflags : avx512f amx_tile\n';
    expect(parseCpuinfo(two)).toEqual({ model: 'First', flags: ['avx2'] });
    expect(parseCpuinfo('')).toEqual({ flags: [] });
    expect(parseCpuinfo('no colons here\n\n')).toEqual({ flags: [] });
    expect(vectorLevel([])).toBe('unknown');
  });
});

describe('machineInfo', () => {
  it('takes model and flags from the given cpuinfo text and says where they came from', () => {
    const m = machineInfo(fixture('xeon-amx.txt'));
    expect(m).toMatchObject({ cpuModel: 'Intel(R) Xeon(R) Platinum 8480+', vectorLevel: 'amx', cpuFlagsSource: '/proc/cpuinfo' });
    expect(m.cpus).toBeGreaterThan(0);
    expect(describeCpu(m)).toMatch(/^Intel\(R\) Xeon\(R\) Platinum 8480\+, \w+, \d+ CPUs; vector extensions sse4_2 .* amx_tile amx_int8 amx_bf16 \(amx\)$/);
  });

  it('without flags (another OS, unreadable file) reports them as unknown instead of failing', () => {
    const m = machineInfo('');
    expect(m).toMatchObject({ cpuFlags: [], vectorLevel: 'unknown', cpuFlagsSource: 'unavailable' });
    expect(m.cpuModel.length).toBeGreaterThan(0); // from os.cpus(), or "unknown"
    expect(describeCpu(m)).toContain('vector extensions unknown');
  });

  it('on this machine: never throws, and names a source', () => {
    const m = machineInfo();
    expect(typeof m.cpuModel).toBe('string');
    expect(['/proc/cpuinfo', 'unavailable']).toContain(m.cpuFlagsSource);
    expect(m.cpuFlags.every((f) => f === f.toLowerCase())).toBe(true);
  });
});
