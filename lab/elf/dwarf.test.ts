import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GoType } from '../abi/types.ts';
import { locationAt, readDwarf, type DwarfParam } from './dwarf.ts';
import { ElfFile } from './file.ts';
import { BuildDir, installedToolchains, testProgram } from './test-support.ts';

/** A program whose one function takes one value of each kind the lab decodes. */
const kindsProgram = `package main

import "fmt"

type Point struct {
	X, Y int32
	Name string
}

type Node struct {
	Val  int
	Next *Node
}

type Shape interface{ Area() float64 }

//go:noinline
func kinds(a int8, b uint16, c uintptr, d float64, e complex128, f string, g []int, h map[string]int, i chan int, j func(int) bool, k interface{}, l error, m [3]byte, n Point, o *Node, p Shape, q *Point) (r1 bool, r2 []string) {
	fmt.Println(a, b, c, d, e, f, g, h, i, j == nil, k, l, m, n, o, p, q)
	return true, nil
}

func add(a, b int) int { return a + b }

func main() {
	kinds(1, 2, 3, 4, 5, "x", nil, nil, nil, nil, nil, nil, [3]byte{}, Point{}, nil, nil, nil)
	fmt.Println(add(len(fmt.Sprint(3)), 2))
}
`;

/** Result shapes gccgo tells apart only by its result variables (see DwarfFunction.resultTypeIsList). */
const resultsProgram = `package main

type Account struct{ ID, Balance int64 }

//go:noinline
func (a Account) Describe(pointer int) string { return "x" }

//go:noinline
func (pointer *Account) Transfer(n int64) bool { pointer.Balance -= n; return true }

//go:noinline
func (Account) Unnamed() int { return 1 }

//go:noinline
func anonymous(a int) struct{ X, Y int } { return struct{ X, Y int }{a, a} }

//go:noinline
func pair(a int) (X, Y int) { return a, a }

//go:noinline
func unnamed(a int) (int8, string) { return int8(a), "" }

//go:noinline
func namedStruct(a int) (s struct{ X, Y int }) { s.X = a; return }

//go:noinline
func one(a int) (n int) { n = a; return }

func main() {
	acct := Account{1, 2}
	println(acct.Describe(1), acct.Transfer(1), acct.Unnamed(), anonymous(1).X, namedStruct(2).X, one(3))
	x, _ := pair(1)
	i, _ := unnamed(1)
	println(x, i)
}
`;

/** name:kind:size of each param, the shape tests compare. */
const summary = (params: readonly DwarfParam[]): string[] =>
  params.map((p) => `${p.isReturn ? 'result ' : ''}${p.name} ${p.type?.name}:${p.type?.kind}:${p.type?.size}/${p.type?.align}`);

describe('readDwarf', () => {
  const builds = new BuildDir();
  const toolchains = installedToolchains();
  const bins = new Map<string, string>();
  let gccgoSeed: string | undefined;
  let gccgoKinds: string | undefined;

  beforeAll(async () => {
    const src = testProgram('kinds', { 'main.go': kindsProgram });
    const wanted = [
      ...toolchains.map((tc) => [`seed-${tc.minor}`, [tc, 'default']] as const),
      ...toolchains.filter((tc) => [15, 21, 27].includes(tc.minor)).map((tc) => [`kinds-${tc.minor}`, [tc, 'default', src]] as const),
      ['seed-stripped', [toolchains.at(-1)!, 'stripped']] as const,
    ];
    const paths = await builds.goAll(wanted.map(([, request]) => request));
    wanted.forEach(([name], i) => bins.set(name, paths[i]!));
    gccgoSeed = await builds.gccgo();
    gccgoKinds = await builds.gccgo(src);
  }, 900_000);
  afterAll(() => builds.remove());

  describe.each(installedToolchains().map((t) => [t.version, t] as const))('%s', (version, tc) => {
    it('reads main.ebpfDemo(a1 int, a2 bool, a3 float32) (r1 int64, r2 int32, r3 string)', () => {
      const dwarf = readDwarf(ElfFile.open(bins.get(`seed-${tc.minor}`)!));
      const fn = dwarf.function('main.ebpfDemo')!;
      expect(fn.inlinedOnly).toBe(false);
      expect(fn.frameBaseIsCfa).toBe(true);
      expect(summary(fn.params)).toEqual([
        'a1 int:int:8/8', 'a2 bool:bool:1/1', 'a3 float32:float:4/4',
        'result r1 int64:int:8/8', 'result r2 int32:int:4/4', 'result r3 string:string:16/8',
      ]);
      expect(dwarf.units.some((u) => u.producer.startsWith(`Go cmd/compile ${version}`))).toBe(true);
      expect(dwarf.regabi).toBe(tc.minor >= 17);
    });

    it('places the arguments at entry where the ABI puts them', () => {
      const fn = readDwarf(ElfFile.open(bins.get(`seed-${tc.minor}`)!)).function('main.ebpfDemo')!;
      const at = (i: number) => locationAt(fn.params[i]!.location, fn.lowPc!);
      if (tc.minor < 17) {
        // ABI0: a1, a2, a3 at CFA+0, +8, +12 (CFA = entry RSP + 8; frame base = CFA).
        expect(at(0)).toEqual([{ kind: 'stack', cfaOffset: 0, size: undefined }]);
        expect(at(1)).toEqual([{ kind: 'fbreg', offset: 8, size: undefined }]);
        expect(at(2)).toEqual([{ kind: 'fbreg', offset: 12, size: undefined }]);
      } else {
        // ABIInternal: RAX, RBX, X0.
        expect(at(0)).toEqual([{ kind: 'reg', dwarfReg: 0, register: 'rax', size: undefined }]);
        expect(at(1)).toEqual([{ kind: 'reg', dwarfReg: 3, register: 'rbx', size: undefined }]);
        expect(at(2)).toEqual([{ kind: 'reg', dwarfReg: 17, register: 'xmm0', size: undefined }]);
      }
    });
  });

  it.each([15, 21, 27])('converts every kind of parameter type (go1.%i)', (minor) => {
    const fn = readDwarf(ElfFile.open(bins.get(`kinds-${minor}`)!)).function('main.kinds')!;
    expect(summary(fn.params)).toEqual([
      'a int8:int:1/1', 'b uint16:int:2/2', 'c uintptr:int:8/8', 'd float64:float:8/8', 'e complex128:complex:16/8',
      'f string:string:16/8', 'g []int:slice:24/8', 'h map[string]int:pointer:8/8', 'i chan int:pointer:8/8',
      'j func(int) bool:pointer:8/8', 'k interface {}:interface:16/8', 'l error:interface:16/8', 'm [3]uint8:array:3/1',
      'n main.Point:struct:24/8', 'o *main.Node:pointer:8/8', 'p main.Shape:interface:16/8', 'q *main.Point:pointer:8/8',
      'result r1 bool:bool:1/1', 'result r2 []string:slice:24/8',
    ]);
    const t = (name: string): GoType => fn.params.find((p) => p.name === name)!.type!;
    expect(t('b')).toMatchObject({ signed: false });
    expect(t('a')).toMatchObject({ signed: true });
    expect(t('g')).toMatchObject({ elem: { name: 'int', kind: 'int', size: 8 } });
    expect([t('h'), t('i'), t('j')].map((x) => (x.kind === 'pointer' ? x.shape : x.kind))).toEqual(['map', 'chan', 'func']);
    expect([t('k'), t('l'), t('p')].map((x) => x.kind === 'interface' && x.empty)).toEqual([true, false, false]);
    expect(t('m')).toMatchObject({ length: 3, elem: { name: 'uint8' } });
    const point = t('n');
    expect(point.kind === 'struct' && point.fields.map((f) => `${f.name}@${f.offset}:${f.type.name}`)).toEqual(['X@0:int32', 'Y@4:int32', 'Name@8:string']);
    // Recursive through a pointer: *Node → Node{Val, Next *Node} → Node.
    const node = t('o');
    expect(node.kind === 'pointer' && node.elem?.kind === 'struct' && node.elem.fields.map((f) => f.name)).toEqual(['Val', 'Next']);
    const next = node.kind === 'pointer' && node.elem?.kind === 'struct' ? node.elem.fields[1]!.type : undefined;
    expect(next?.kind === 'pointer' && next.elem?.name).toBe('main.Node');
  });

  it('reads the same DWARF from compressed and decompressed sections', () => {
    for (const key of ['seed-15', 'seed-21']) {
      const path = bins.get(key)!;
      const plain = join(builds.dir, `${key}-plain`);
      execFileSync('objcopy', ['--decompress-debug-sections', path, plain]);
      const a = readDwarf(ElfFile.open(path)).function('main.ebpfDemo')!;
      const b = readDwarf(ElfFile.open(plain)).function('main.ebpfDemo')!;
      expect(JSON.stringify({ ...b, params: b.params })).toBe(JSON.stringify({ ...a, params: a.params }));
    }
  });

  it('marks a function that exists only inlined', () => {
    const dwarf = readDwarf(ElfFile.open(bins.get('kinds-21')!));
    expect(dwarf.function('main.add')).toMatchObject({ inlinedOnly: true, lowPc: undefined });
    // The abstract instance lists the arguments; gc gives its unnamed result no DIE there.
    expect(summary(dwarf.function('main.add')!.params)).toEqual(['a int:int:8/8', 'b int:int:8/8']);
    expect(dwarf.function('main.kinds')?.inlinedOnly).toBe(false);
  });

  it('reads gccgo-12 DWARF: System V frame, no results as parameters, no regabi', () => {
    if (!gccgoSeed) return;
    const dwarf = readDwarf(ElfFile.open(gccgoSeed));
    expect(dwarf.regabi).toBe(false);
    expect(dwarf.units[0]!.producer).toMatch(/^GNU Go 12\./);
    const fn = dwarf.function('main.ebpfDemo')!;
    expect(summary(fn.params)).toEqual(['a1 int:int:8/8', 'a2 bool:bool:1/1', 'a3 float32:float:4/4']);
    expect(fn.params.map((p) => locationAt(p.location, fn.lowPc!)?.[0]?.kind)).toEqual(['fbreg', 'fbreg', 'fbreg']);
  });

  it('converts gccgo\'s spelling of strings, slices, maps, chans, funcs and interfaces', () => {
    if (!gccgoKinds) return;
    const fn = readDwarf(ElfFile.open(gccgoKinds)).function('main.kinds')!;
    const kinds = fn.params.map((p) => (p.type?.kind === 'pointer' ? `pointer:${p.type.shape}` : p.type?.kind === 'interface' ? `interface:${p.type.empty}` : p.type?.kind));
    expect(kinds).toEqual(['int', 'int', 'int', 'float', 'complex', 'string', 'slice', 'pointer:map', 'pointer:chan', 'pointer:func', 'interface:true', 'interface:false', 'array', 'struct', 'pointer:pointer', 'interface:false', 'pointer:pointer']);
    expect(fn.params[6]!.type).toMatchObject({ name: '[]int', elem: { name: 'int' } });
  });

  it('reads gccgo-12 results from the subprogram type, and value receivers passed by pointer', async () => {
    const binary = await builds.gccgo(testProgram('results', { 'main.go': resultsProgram }));
    if (!binary) return;
    const dwarf = readDwarf(ElfFile.open(binary));
    const results = (name: string) => {
      const fn = dwarf.function(name)!;
      const type = fn.resultType;
      return { list: fn.resultTypeIsList, type: type?.kind === 'struct' ? type.fields.map((f) => `${f.name} ${f.type.name}`) : type?.name };
    };
    expect(results('main.pair')).toEqual({ list: true, type: ['X int', 'Y int'] });
    expect(results('main.unnamed')).toEqual({ list: true, type: ['UNNAMED int8', 'UNNAMED string'] });
    // One result of an anonymous struct type: a result variable has the function's type DIE.
    expect(results('main.anonymous')).toEqual({ list: false, type: ['X int', 'Y int'] });
    expect(results('main.namedStruct')).toEqual({ list: false, type: ['X int', 'Y int'] });
    expect(results('main.one')).toEqual({ list: false, type: 'int' });
    expect(dwarf.function('main.main')).toMatchObject({ resultType: undefined, resultTypeIsList: false });
    // The value receiver: a `pointer` parameter at the function's own position, copied into a
    // variable with the receiver's name; the source's own `pointer` sits at its own column.
    const method = dwarf.function('main.Account.Describe')!;
    const [receiver, own] = method.params;
    expect([receiver!.name, receiver!.type?.name, receiver!.declLine, receiver!.declColumn]).toEqual(['pointer', '*Account', method.declLine, method.declColumn]);
    expect(own).toMatchObject({ name: 'pointer', type: { name: 'int' } });
    expect(own!.declColumn).not.toBe(method.declColumn);
    expect(method.variables.find((v) => v.declColumn === method.declColumn && v.name === 'a')?.type?.name).toBe('Account');
    // A pointer receiver the source names `pointer` is at the function's position too, but
    // has no copy: the copy is what marks a value receiver.
    const transfer = dwarf.function('main.Account.Transfer')!;
    expect(transfer.params[0]).toMatchObject({ name: 'pointer', type: { name: '*Account' }, declColumn: transfer.declColumn });
    expect(transfer.variables.filter((v) => v.type?.name === 'Account')).toEqual([]);
    // An unnamed value receiver: `r.0.pointer`, copied to `r.0`.
    const unnamed = dwarf.function('main.Account.Unnamed')!;
    expect(unnamed.params.map((p) => p.name)).toEqual(['r.0.pointer']);
    expect(unnamed.variables.find((v) => v.type?.name === 'Account')?.name).toBe('r.0');
  });

  it('says DWARF_MISSING for a stripped binary', () => {
    expect(() => readDwarf(ElfFile.open(bins.get('seed-stripped')!))).toThrowError(expect.objectContaining({ code: 'DWARF_MISSING' }));
  });
});
