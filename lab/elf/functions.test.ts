import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElfFile } from './file.ts';
import { findFunction, functionBytes, goVersionOf, listGoFunctions, nearestNames } from './functions.ts';
import { BuildDir, installedToolchains, testProgram, type BuildVariant } from './test-support.ts';

const run = (cmd: string, ...args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });

/** main.ebpfDemo's address and file offset from readelf alone: st_value − p_vaddr + p_offset. */
function readelfOffset(path: string, name: string): { vaddr: number; fileOffset: number } {
  const sym = run('readelf', '-sW', path).split('\n').map((l) => l.trim().split(/\s+/)).find((f) => f[7] === name && f[3] === 'FUNC');
  if (!sym) throw new Error(`${name} not in readelf -s ${path}`);
  const vaddr = parseInt(sym[1]!, 16);
  for (const line of run('readelf', '-lW', path).split('\n')) {
    const m = /^\s*LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)/.exec(line);
    if (!m) continue;
    const [offset, segVaddr, filesz] = [parseInt(m[1]!, 16), parseInt(m[2]!, 16), parseInt(m[3]!, 16)];
    if (vaddr >= segVaddr && vaddr < segVaddr + filesz) return { vaddr, fileOffset: vaddr - segVaddr + offset };
  }
  throw new Error(`${name} not in a PT_LOAD of ${path}`);
}

/** The first `count` code bytes objdump disassembles at `vaddr`. */
function objdumpBytes(path: string, vaddr: number, count: number): Buffer {
  const text = run('objdump', '-d', `--start-address=0x${vaddr.toString(16)}`, `--stop-address=0x${(vaddr + count).toString(16)}`, path);
  const hex = text.split('\n').flatMap((l) => {
    const m = /^\s*[0-9a-f]+:\t((?:[0-9a-f]{2} )+)/.exec(l);
    return m ? m[1]!.trim().split(' ') : [];
  });
  return Buffer.from(hex.join(''), 'hex').subarray(0, count);
}

const inlineProgram = `package main

import "fmt"

func add(a, b int) int { return a + b }

//go:noinline
func Keep(x int) int { return add(x, 1) }

func main() { fmt.Println(Keep(1), add(2, 3)) }
`;

describe('findFunction', () => {
  const builds = new BuildDir();
  const toolchains = installedToolchains().filter((t) => [15, 19, 21, 26, 27].includes(t.minor));
  const variants: BuildVariant[] = ['default', 'stripped', 'pie', 'pie-stripped'];
  const bins = new Map<string, string>();
  let gccgo: string | undefined;
  let gccgoStripped: string | undefined;
  let inline: string | undefined;

  beforeAll(async () => {
    const wanted = toolchains.flatMap((tc) => variants.map((v) => [tc, v] as const));
    const paths = await builds.goAll(wanted);
    wanted.forEach(([tc, v], i) => bins.set(`${tc.minor}-${v}`, paths[i]!));
    gccgo = await builds.gccgo();
    if (gccgo) {
      gccgoStripped = join(builds.dir, 'seed-gccgo-stripped');
      run('strip', '-o', gccgoStripped, gccgo);
    }
    const src = testProgram('inline', { 'main.go': inlineProgram });
    inline = await builds.go(toolchains.find((t) => t.minor === 21)!, 'default', src);
  }, 900_000);
  afterAll(() => builds.remove());

  describe.each(toolchains.map((t) => [t.version, t] as const))('%s', (_v, tc) => {
    it.each(variants)('main.ebpfDemo in a %s build sits at the file offset readelf gives', (variant) => {
      const path = bins.get(`${tc.minor}-${variant}`)!;
      // Stripped builds have no symbols: take readelf's answer from the unstripped twin.
      const twin = bins.get(`${tc.minor}-${variant.replace(/-?stripped$/, '') || 'default'}`)!;
      const expected = readelfOffset(twin, 'main.ebpfDemo');
      const elf = ElfFile.open(path);
      const fn = findFunction(elf, 'main.ebpfDemo');
      expect(fn).toMatchObject({ name: 'main.ebpfDemo', vaddr: expected.vaddr, fileOffset: expected.fileOffset, source: variant.includes('stripped') ? 'pclntab' : 'symtab' });
      const code = objdumpBytes(twin, expected.vaddr, 16);
      expect(code.length).toBeGreaterThanOrEqual(8);
      expect(functionBytes(elf, fn).subarray(0, code.length)).toEqual(code);
      expect(goVersionOf(elf)).toBe(tc.version);
    });
  });

  it('suggests the nearest names for a typo, and full names for a bare one', () => {
    const elf = ElfFile.open(bins.get('21-stripped')!);
    const typo = (() => {
      try {
        findFunction(elf, 'main.ebpfDemmo');
      } catch (error) {
        return error as { code: string; hint: string; exitCode: number };
      }
    })();
    expect(typo).toMatchObject({ code: 'FUNCTION_NOT_FOUND', exitCode: 2 });
    expect(typo!.hint).toMatch(/^Did you mean: main\.ebpfDemo\b/);
    expect(nearestNames('ebpfDemo', listGoFunctions(elf).map((f) => f.name), 5)[0]).toBe('main.ebpfDemo');
    expect(nearestNames('x', ['a.b'], 5)).toEqual([]);
  });

  it('says FUNCTION_INLINED for a function that exists only inlined', () => {
    const elf = ElfFile.open(inline!);
    expect(findFunction(elf, 'main.Keep').name).toBe('main.Keep');
    expect(() => findFunction(elf, 'main.add')).toThrowError(expect.objectContaining({ code: 'FUNCTION_INLINED', hint: expect.stringContaining('//go:noinline') }));
  });

  it('finds gccgo functions through the symbol table (PIE), at readelf\'s file offset', () => {
    if (!gccgo) return;
    const elf = ElfFile.open(gccgo);
    expect(elf.isPie).toBe(true);
    const fn = findFunction(elf, 'main.ebpfDemo');
    expect(fn).toMatchObject({ source: 'symtab', ...readelfOffset(gccgo, 'main.ebpfDemo') });
    const expected = objdumpBytes(gccgo, fn.vaddr, 16);
    expect(expected.length).toBeGreaterThanOrEqual(8);
    expect(functionBytes(elf, fn).subarray(0, expected.length)).toEqual(expected);
  });

  it('says GO_STRIPPED_NO_PCLNTAB for a stripped gccgo binary', () => {
    if (!gccgoStripped) return;
    const elf = ElfFile.open(gccgoStripped);
    expect(elf.symbols()).toEqual([]);
    expect(() => findFunction(elf, 'main.ebpfDemo')).toThrowError(expect.objectContaining({ code: 'GO_STRIPPED_NO_PCLNTAB', exitCode: 3 }));
  });
});
