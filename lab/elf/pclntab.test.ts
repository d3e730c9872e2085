import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElfFile } from './file.ts';
import { readPclntab } from './pclntab.ts';
import { BuildDir, installedToolchains, type BuildVariant, type Toolchain } from './test-support.ts';

const nmMemo = new Map<string, Map<string, Set<number>>>();

/**
 * Text symbols (T/t) as the toolchain's own `go tool nm` lists them: name → addresses. Memoized
 * by path: Go ≥ 1.25 ships no prebuilt nm, so the first `go tool nm` compiles it (a minute on a
 * busy machine with a cold GOCACHE), which beforeAll does, within its own timeout.
 */
function goToolNm(tc: Toolchain, path: string): Map<string, Set<number>> {
  const memo = nmMemo.get(path);
  if (memo) return memo;
  const text = execFileSync(tc.go, ['tool', 'nm', path], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const out = new Map<string, Set<number>>();
  nmMemo.set(path, out);
  for (const line of text.split('\n')) {
    const m = /^\s*([0-9a-f]+) [Tt] (.+)$/.exec(line);
    if (!m) continue;
    // The pclntab spells names as the runtime prints them: assembly functions without the
    // linker's ".abi0" suffix, and (Go 1.18+) bracketed parts shortened to "[...]".
    const name = m[2]!.replace(/\.abi0$/, '');
    for (const n of new Set([name, name.replace(/\[.*\]/, '[...]')])) {
      const set = out.get(n) ?? new Set<number>();
      set.add(parseInt(m[1]!, 16));
      out.set(n, set);
    }
  }
  return out;
}

const expectedLayout = (minor: number): string => (minor <= 15 ? '1.2' : minor <= 17 ? '1.16' : minor <= 19 ? '1.18' : '1.20');

describe('readPclntab', () => {
  const builds = new BuildDir();
  const toolchains = installedToolchains();
  const bins = new Map<string, string>();
  const key = (minor: number, variant: BuildVariant): string => `${minor}-${variant}`;
  /** Toolchains also built with the C linker (external-link PIE: no .gopclntab section before 1.26). */
  const external = toolchains.filter((t) => [19, 21, 27].includes(t.minor));
  let gccgo: string | undefined;

  beforeAll(async () => {
    const wanted = [
      ...toolchains.flatMap((tc) => (['default', 'stripped', 'pie', 'pie-stripped'] as const).map((v) => [tc, v] as const)),
      ...external.flatMap((tc) => (['pie-external', 'pie-external-stripped'] as const).map((v) => [tc, v] as const)),
    ];
    const paths = await builds.goAll(wanted);
    wanted.forEach(([tc, v], i) => bins.set(key(tc.minor, v), paths[i]!));
    for (const tc of toolchains) for (const v of ['default', 'pie'] as const) goToolNm(tc, bins.get(key(tc.minor, v))!);
    for (const tc of external) goToolNm(tc, bins.get(key(tc.minor, 'pie-external'))!);
    gccgo = await builds.gccgo();
  }, 1_200_000);
  afterAll(() => builds.remove());

  /** Every pclntab function of `stripped` is at the address `go tool nm` gives for it in `twin`. */
  const matchesTwin = (tc: Toolchain, stripped: string, twin: string): void => {
    const table = readPclntab(ElfFile.open(stripped));
    const nm = goToolNm(tc, twin);
    expect(table.functions.length).toBeGreaterThan(1000);
    // The runtime's names keep the middle dot the symbol table spells as '.' (Go 1.23: type:.eq.T·4).
    const mismatched = table.functions.filter((f) => !nm.get(f.name)?.has(f.entry) && !nm.get(f.name.replaceAll('·', '.'))?.has(f.entry));
    expect(mismatched.slice(0, 5)).toEqual([]);
    for (const name of ['main.ebpfDemo', 'main.main', 'runtime.main']) {
      expect(table.functions.find((f) => f.name === name)?.entry).toBe([...nm.get(name)!][0]);
    }
    // Entries ascend and each function ends where the next begins.
    const unordered = table.functions.filter((f, i) => i > 0 && (f.entry < table.functions[i - 1]!.entry || table.functions[i - 1]!.end !== f.entry));
    expect(unordered).toEqual([]);
  };

  describe.each(installedToolchains().map((t) => [t.version, t] as const))('%s', (_version, tc) => {
    it(`uses the ${expectedLayout(tc.minor)} layout`, () => {
      expect(readPclntab(ElfFile.open(bins.get(key(tc.minor, 'default'))!)).layout).toBe(expectedLayout(tc.minor));
    });
    it('stripped build: entries equal go tool nm of the unstripped build', () => {
      matchesTwin(tc, bins.get(key(tc.minor, 'stripped'))!, bins.get(key(tc.minor, 'default'))!);
    });
    it('PIE build: entries equal go tool nm of the same binary', () => {
      matchesTwin(tc, bins.get(key(tc.minor, 'pie'))!, bins.get(key(tc.minor, 'pie'))!);
    });
    it('stripped PIE build: entries equal go tool nm of the unstripped PIE', () => {
      matchesTwin(tc, bins.get(key(tc.minor, 'pie-stripped'))!, bins.get(key(tc.minor, 'pie'))!);
    });
    if (tc.minor >= 26) {
      it('zero pcHeader.textStart (Go 1.26+) is replaced from the symtab, else moduledata', () => {
        expect(readPclntab(ElfFile.open(bins.get(key(tc.minor, 'default'))!)).textStartSource).toBe('symtab');
        const stripped = readPclntab(ElfFile.open(bins.get(key(tc.minor, 'stripped'))!));
        expect(stripped.textStartSource).toBe('moduledata');
        expect(stripped.textStart).toBe([...goToolNm(tc, bins.get(key(tc.minor, 'default'))!).get('runtime.text')!][0]);
      });
    }
  });

  describe.each(external.map((t) => [t.version, t] as const))('%s linked externally as PIE', (_version, tc) => {
    it('finds the table (by scanning when there is no .gopclntab) and its entries equal go tool nm of the unstripped twin', () => {
      const path = bins.get(key(tc.minor, 'pie-external-stripped'))!;
      const elf = ElfFile.open(path);
      const table = readPclntab(elf);
      if (!elf.section('.gopclntab')) expect(table.foundIn).toMatch(/^\.data\.rel\.ro\+0x[0-9a-f]+$/);
      // Behind the C linker's start files, runtime.text is not the start of .text.
      expect(table.textStart).not.toBe(elf.section('.text')!.addr);
      matchesTwin(tc, path, bins.get(key(tc.minor, 'pie-external'))!);
    });
  });

  it('reports GO_NO_PCLNTAB for gccgo, which has no pclntab', () => {
    if (!gccgo) return;
    expect(() => readPclntab(ElfFile.open(gccgo!))).toThrowError(expect.objectContaining({ code: 'GO_NO_PCLNTAB', hint: expect.stringContaining('gccgo') }));
  });

  it('reports GO_NO_PCLNTAB when the magic is damaged', () => {
    const data = Buffer.from(ElfFile.open(bins.get(key(21, 'stripped'))!).data);
    const magic = Buffer.from([0xf1, 0xff, 0xff, 0xff, 0, 0, 1, 8]);
    for (let at = data.indexOf(magic); at >= 0; at = data.indexOf(magic, at + 1)) data[at] = 0x00;
    expect(() => readPclntab(ElfFile.parse(data))).toThrowError(expect.objectContaining({ code: 'GO_NO_PCLNTAB' }));
  });
});
