import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBuildInfo } from './buildinfo.ts';
import { readDwarf } from './dwarf.ts';
import { ElfFile } from './file.ts';
import { buildCorpus, describeFailure, exerciseReaders, formatSummary, mutate, runFuzz, type FuzzSeed } from './fuzz.ts';
import { readPclntab } from './pclntab.ts';
import { BuildDir } from './test-support.ts';

describe('fuzzing the readers', () => {
  const builds = new BuildDir();
  let seeds: FuzzSeed[] = [];
  const seedNamed = (name: string): Buffer => Buffer.from(seeds.find((s) => s.name === name)!.data);

  beforeAll(async () => {
    seeds = await buildCorpus(builds);
  }, 900_000);
  afterAll(() => builds.remove());

  it('starts from unmutated seeds every reader accepts', () => {
    expect(seeds.length).toBeGreaterThanOrEqual(10);
    for (const s of seeds) {
      const { outcomes, failure } = exerciseReaders(s.data, s.name);
      expect(failure).toBeUndefined();
      expect(outcomes.parse).toBe('ok');
      expect(outcomes.find).toBe('ok');
    }
  });

  it('mutates deterministically from the case seed', () => {
    const a = mutate(seeds[0]!.data, 12345);
    const b = mutate(seeds[0]!.data, 12345);
    expect(a.mutations).toEqual(b.mutations);
    expect(a.data.equals(b.data)).toBe(true);
    expect(mutate(seeds[0]!.data, 12346).data.equals(a.data)).toBe(false);
  });

  it('400 fixed-seed cases end in a result or a typed error, each within 2 s of CPU', () => {
    const summary = runFuzz(seeds, { cases: 400, seed: 20261127, timeBoundMs: 2000 });
    console.log(formatSummary(summary));
    expect(summary.failures.map(describeFailure)).toEqual([]);
    expect(summary.maxCpuMs).toBeLessThan(2000);
    // The mutations reach past the ELF header: some cases keep every reader working, others
    // end in errors of the deeper readers.
    expect(summary.results).toBeGreaterThan(0);
    for (const code of ['ELF_TRUNCATED', 'DWARF_MALFORMED', 'GO_BAD_PCLNTAB']) expect(summary.codes[code] ?? 0).toBeGreaterThan(0);
  }, 120_000);

  describe('oversized counts and offsets', () => {
    it('a pclntab function count larger than the table → GO_BAD_PCLNTAB', () => {
      const data = seedNamed('go1.21-plain-dwarf');
      const s = ElfFile.parse(data).section('.gopclntab')!;
      data.writeBigUInt64LE(0x7fffffffn, s.offset + 8);
      expect(() => readPclntab(ElfFile.parse(data))).toThrowError(expect.objectContaining({ code: 'GO_BAD_PCLNTAB' }));
    });

    it('a pclntab functab offset past the end → GO_BAD_PCLNTAB', () => {
      const data = seedNamed('go1.27-plain-dwarf');
      const s = ElfFile.parse(data).section('.gopclntab')!;
      data.writeBigUInt64LE(0xffffffffffn, s.offset + 64);
      expect(() => readPclntab(ElfFile.parse(data))).toThrowError(expect.objectContaining({ code: 'GO_BAD_PCLNTAB' }));
    });

    it('a build-info string length of 2^60 → GO_NO_BUILDINFO', () => {
      const data = seedNamed('go1.21');
      const s = ElfFile.parse(data).section('.go.buildinfo')!;
      Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]).copy(data, s.offset + 32);
      expect(() => readBuildInfo(ElfFile.parse(data))).toThrowError(expect.objectContaining({ code: 'GO_NO_BUILDINFO' }));
    });

    it('a build-info pointer to nowhere (pointer format) → GO_NO_BUILDINFO', () => {
      const data = seedNamed('go1.15');
      const s = ElfFile.parse(data).section('.go.buildinfo')!;
      data.writeBigUInt64LE(0x7ffffff000n, s.offset + 16);
      expect(() => readBuildInfo(ElfFile.parse(data))).toThrowError(expect.objectContaining({ code: 'GO_NO_BUILDINFO' }));
    });

    it('a DWARF unit length past the section → DWARF_MALFORMED', () => {
      const data = seedNamed('go1.21-plain-dwarf');
      const s = ElfFile.parse(data).section('.debug_info')!;
      data.writeUInt32LE(0xfffffff0 - 1, s.offset);
      expect(() => readDwarf(ElfFile.parse(data))).toThrowError(expect.objectContaining({ code: 'DWARF_MALFORMED' }));
    });

    it('a section count of 65535 and a huge section offset → typed errors', () => {
      const data = seedNamed('go1.27');
      data.writeUInt16LE(0xffff, 60);
      expect(() => ElfFile.parse(data)).toThrowError(expect.objectContaining({ code: 'ELF_TRUNCATED' }));
      const data2 = seedNamed('go1.27');
      data2.writeBigUInt64LE(0xffffffffffffffffn, 40);
      expect(() => ElfFile.parse(data2)).toThrowError(expect.objectContaining({ code: 'ELF_TRUNCATED' }));
    });

    it('a compressed section whose header claims 1 TiB → ELF_BAD_COMPRESSION', () => {
      const data = seedNamed('go1.21');
      const elf = ElfFile.parse(data);
      const s = elf.section('.debug_info')!;
      data.writeBigUInt64LE(1n << 40n, s.offset + 8);
      expect(() => readDwarf(ElfFile.parse(data))).toThrowError(expect.objectContaining({ code: 'ELF_BAD_COMPRESSION' }));
    });
  });
});
