import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElfFile, SHF } from './file.ts';
import { BuildDir, installedToolchains, type Toolchain } from './test-support.ts';

/** Runs a binutils command and returns its stdout. */
const run = (cmd: string, ...args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });

/** Sections as `readelf -SW` lists them: name → {addr, offset, size}. */
function readelfSections(path: string): Map<string, { addr: number; offset: number; size: number }> {
  const out = new Map<string, { addr: number; offset: number; size: number }>();
  for (const line of run('readelf', '-SW', path).split('\n')) {
    const m = /^\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)/.exec(line);
    if (m && !line.includes('[ 0]')) out.set(m[1]!, { addr: parseInt(m[2]!, 16), offset: parseInt(m[3]!, 16), size: parseInt(m[4]!, 16) });
  }
  return out;
}

/** PT_LOAD headers as `readelf -lW` lists them. */
function readelfLoads(path: string): { offset: number; vaddr: number; filesz: number }[] {
  return run('readelf', '-lW', path)
    .split('\n')
    .flatMap((line) => {
      const m = /^\s*LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)/.exec(line);
      return m ? [{ offset: parseInt(m[1]!, 16), vaddr: parseInt(m[2]!, 16), filesz: parseInt(m[3]!, 16) }] : [];
    });
}

/** A symbol's value and size from `readelf -sW`. */
function readelfSymbol(path: string, name: string): { value: number; size: number } {
  for (const line of run('readelf', '-sW', path).split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[7] === name) return { value: parseInt(f[1]!, 16), size: Number(f[2]) };
  }
  throw new Error(`${name} not in readelf -s of ${path}`);
}

describe('ElfFile', () => {
  const builds = new BuildDir();
  const tc: Toolchain[] = installedToolchains().filter((t) => t.minor === 15 || t.minor === 19 || t.minor === 27);
  const bins: Record<string, string> = {};

  beforeAll(async () => {
    for (const t of tc) {
      bins[`${t.minor}`] = await builds.go(t, 'default');
      bins[`${t.minor}-pie`] = await builds.go(t, 'pie');
    }
  }, 600_000);
  afterAll(() => builds.remove());

  it('finds the toolchains it tests with', () => {
    expect(tc.map((t) => t.minor)).toEqual([15, 19, 27]);
  });

  it.each(['15', '19', '27', '15-pie', '19-pie', '27-pie'])('reads the headers of go1.%s like readelf does', (key) => {
    const path = bins[key]!;
    const elf = ElfFile.open(path);
    expect(elf.type).toBe(key.endsWith('pie') ? 'dyn' : 'exec');
    expect(elf.isPie).toBe(key.endsWith('pie'));
    const expected = readelfSections(path);
    const got = new Map(elf.sections.filter((s) => s.name).map((s) => [s.name, { addr: s.addr, offset: s.offset, size: s.size }]));
    expect(got).toEqual(expected);
    const loads = elf.segments.filter((s) => s.type === 1).map((s) => ({ offset: s.offset, vaddr: s.vaddr, filesz: s.filesz }));
    expect(loads).toEqual(readelfLoads(path));
  });

  it.each(['15', '19', '27', '15-pie', '19-pie', '27-pie'])('maps main.ebpfDemo of go1.%s to the file offset readelf implies', (key) => {
    const path = bins[key]!;
    const elf = ElfFile.open(path);
    const sym = readelfSymbol(path, 'main.ebpfDemo');
    const mine = elf.symbols().find((s) => s.name === 'main.ebpfDemo');
    expect(mine).toMatchObject({ value: sym.value, size: sym.size, type: 'func' });
    const load = readelfLoads(path).find((l) => sym.value >= l.vaddr && sym.value < l.vaddr + l.filesz)!;
    const offset = sym.value - load.vaddr + load.offset;
    expect(elf.vaddrToFileOffset(sym.value)).toBe(offset);
    expect(elf.readVirtual(sym.value, sym.size).equals(readFileSync(path).subarray(offset, offset + sym.size))).toBe(true);
  });

  it('reports an unmapped address with a typed error', () => {
    const elf = ElfFile.open(bins['19']!);
    expect(() => elf.vaddrToFileOffset(0x10)).toThrowError(expect.objectContaining({ code: 'ELF_UNMAPPED_ADDRESS' }));
  });

  it.each(['15', '19', '27'])('inflates compressed debug sections of go1.%s to what objcopy writes', (key) => {
    const path = bins[key]!;
    const plain = join(builds.dir, `plain-${key}`);
    run('objcopy', '--decompress-debug-sections', path, plain);
    const elf = ElfFile.open(path);
    const ref = ElfFile.open(plain);
    const compressed = elf.sections.filter((s) => s.flags & SHF.compressed || s.name.startsWith('.zdebug_'));
    expect(compressed.length).toBeGreaterThan(0);
    for (const s of compressed) {
      const twin = ref.section(s.name.replace(/^\.zdebug_/, '.debug_'))!;
      expect(elf.sectionData(s).equals(ref.sectionData(twin))).toBe(true);
    }
  });

  describe('malformed input', () => {
    const dir = () => builds.dir;
    const expectCode = (fn: () => unknown, code: string): void => {
      expect(fn).toThrowError(expect.objectContaining({ code }));
    };

    it('missing path → ELF_NOT_FOUND', () => expectCode(() => ElfFile.open(join(dir(), 'no-such-binary')), 'ELF_NOT_FOUND'));

    it('directory → ELF_IS_DIRECTORY', () => {
      mkdirSync(join(dir(), 'a-dir'), { recursive: true });
      expectCode(() => ElfFile.open(join(dir(), 'a-dir')), 'ELF_IS_DIRECTORY');
    });

    it('a script → ELF_NOT_ELF, with a hint', () => {
      const p = join(dir(), 'script.sh');
      writeFileSync(p, '#!/bin/sh\necho hi\n');
      expect(() => ElfFile.open(p)).toThrowError(expect.objectContaining({ code: 'ELF_NOT_ELF', hint: expect.stringMatching(/compiled Go executable/) }));
      expectCode(() => ElfFile.parse(Buffer.alloc(0)), 'ELF_NOT_ELF');
    });

    it('e_machine patched to aarch64 → ELF_WRONG_ARCH', () => {
      const p = join(dir(), 'arm64');
      copyFileSync(bins['19']!, p);
      const data = readFileSync(p);
      data.writeUInt16LE(183, 18); // EM_AARCH64
      writeFileSync(p, data);
      expect(() => ElfFile.open(p)).toThrowError(expect.objectContaining({ code: 'ELF_WRONG_ARCH', message: expect.stringContaining('e_machine 183') }));
    });

    it('ELF32 and big-endian identification → ELF_WRONG_ARCH', () => {
      const data = Buffer.from(readFileSync(bins['19']!));
      data[4] = 1;
      expectCode(() => ElfFile.parse(data), 'ELF_WRONG_ARCH');
      data[4] = 2;
      data[5] = 2;
      expectCode(() => ElfFile.parse(data), 'ELF_WRONG_ARCH');
    });

    it('truncated copies → ELF_TRUNCATED', () => {
      const data = readFileSync(bins['19']!);
      for (const length of [40, 63, 4096, Math.floor(data.length / 2), data.length - 1]) {
        expectCode(() => ElfFile.parse(data.subarray(0, length), `truncated-${length}`), 'ELF_TRUNCATED');
      }
    });
  });
});
