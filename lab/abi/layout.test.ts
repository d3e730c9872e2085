import { describe, expect, it } from 'vitest';
import { arrayOf, goTypes as t, interfaceNamed, pointerTo, signature, sliceOf, structOf } from './construct.ts';
import { layoutFunction, type AbiName, type FunctionLayout, type IntReg, type Piece } from './layout.ts';
import type { GoSignature } from './types.ts';
import { abiForGoVersion } from './version.ts';
import { GolabError } from '../errors.ts';

const reg = (r: IntReg, size: number, valueOffset = 0, regOffset?: number): Piece =>
  regOffset === undefined ? { where: 'reg', reg: r, size, valueOffset } : { where: 'reg', reg: r, size, valueOffset, regOffset };
const xmm = (index: number, size: number, valueOffset = 0, regOffset?: number): Piece =>
  regOffset === undefined ? { where: 'xmm', index, size, valueOffset } : { where: 'xmm', index, size, valueOffset, regOffset };
const stack = (offset: number, size: number): Piece => ({ where: 'stack', offset, size, valueOffset: 0 });
const indirect = (offset: number, size: number): Piece => ({ where: 'indirect', offset, size, valueOffset: 0 });

/** A layout without the types, for exact comparison: name → pieces (and spill slot). */
function summary(layout: FunctionLayout) {
  const values = (list: FunctionLayout['params']) =>
    Object.fromEntries(list.map((v) => [v.name, v.spill === undefined ? v.pieces : { pieces: v.pieces, spill: v.spill.offset }]));
  return {
    params: values(layout.params),
    results: values(layout.results),
    frameArgSize: layout.frameArgSize,
    ...(layout.hiddenResultPointer === undefined ? {} : { hidden: [layout.hiddenResultPointer, layout.hiddenResultPointerAtReturn] }),
  };
}
const lay = (sig: GoSignature, abi: AbiName) => summary(layoutFunction(sig, abi));

const Point = structOf('main.Point', [['X', t.int32], ['Y', t.int32]]);
const Vec = structOf('main.Vec', [['X', t.float64], ['Y', t.float64]]);
const Mixed = structOf('main.Mixed', [['ID', t.int32], ['Weight', t.float64], ['Name', t.string], ['OK', t.bool]]);
const Account = structOf('main.Account', [['ID', t.int64], ['Balance', t.int64]]);

// The tutorial's func ebpfDemo(a1 int, a2 bool, a3 float32) (r1 int64, r2 int32, r3 string).
const ebpfDemo = signature(
  [['a1', t.int], ['a2', t.bool], ['a3', t.float32]],
  [['r1', t.int64], ['r2', t.int32], ['r3', t.string]],
);

describe('abi-internal.md example', () => {
  // func f(a1 uint8, a2 [2]uintptr, a3 uint8) (r1 struct{x uintptr; y [2]uintptr}, r2 string)
  const r1 = structOf('struct { x uintptr; y [2]uintptr }', [['x', t.uintptr], ['y', arrayOf(t.uintptr, 2)]]);
  const f = signature([['a1', t.uint8], ['a2', arrayOf(t.uintptr, 2)], ['a3', t.uint8]], [['r1', r1], ['r2', t.string]]);

  it('ABIInternal: a1, a3 and r2 in registers, a2 and r1 on the stack, spill slots after r1', () => {
    // Stack sequence: a2 [0,16), r1 [16,40), spill a1 at 40, a3 at 41, padded to 48; plus 8 for the return PC.
    expect(lay(f, 'abiinternal')).toEqual({
      params: { a1: { pieces: [reg('ax', 1)], spill: 48 }, a2: [stack(8, 16)], a3: { pieces: [reg('bx', 1)], spill: 49 } },
      results: { r1: [stack(24, 24)], r2: [reg('ax', 8, 0), reg('bx', 8, 8)] },
      frameArgSize: 48,
    });
  });

  it('ABI0: everything on the stack in memory order, results pointer-aligned', () => {
    expect(lay(f, 'abi0')).toEqual({
      params: { a1: [stack(8, 1)], a2: [stack(16, 16)], a3: [stack(32, 1)] },
      results: { r1: [stack(40, 24)], r2: [stack(64, 16)] },
      frameArgSize: 72,
    });
  });
});

describe('ebpfDemo under all three ABIs', () => {
  it('ABI0 matches the tutorial stack slots sp+8, sp+16, sp+20', () => {
    expect(lay(ebpfDemo, 'abi0')).toEqual({
      params: { a1: [stack(8, 8)], a2: [stack(16, 1)], a3: [stack(20, 4)] },
      results: { r1: [stack(24, 8)], r2: [stack(32, 4)], r3: [stack(40, 16)] },
      frameArgSize: 48,
    });
  });

  it('ABIInternal: RAX, BL, X0; a3 spills to entry SP+0x14 (environment.md)', () => {
    expect(lay(ebpfDemo, 'abiinternal')).toEqual({
      params: {
        a1: { pieces: [reg('ax', 8)], spill: 8 },
        a2: { pieces: [reg('bx', 1)], spill: 16 },
        a3: { pieces: [xmm(0, 4)], spill: 0x14 },
      },
      results: { r1: [reg('ax', 8)], r2: [reg('bx', 4)], r3: [reg('cx', 8, 0), reg('di', 8, 8)] },
      frameArgSize: 16,
    });
  });

  it('System V: 32-byte result struct in memory, hidden pointer in RDI, a1 RSI, a2 DL, a3 XMM0', () => {
    expect(lay(ebpfDemo, 'sysv')).toEqual({
      params: { a1: [reg('si', 8)], a2: [reg('dx', 1)], a3: [xmm(0, 4)] },
      results: { r1: [indirect(0, 8)], r2: [indirect(8, 4)], r3: [indirect(16, 16)] },
      frameArgSize: 0,
      hidden: [reg('di', 8), reg('ax', 8)],
    });
  });
});

describe('register exhaustion', () => {
  const names = 'abcdefghijkl'.split('');
  const manyInts = signature(names.map((n) => [n, t.int64] as const), [['sum', t.int64], ['last', t.int64]]);

  it('ABIInternal: nine integer registers, then the stack; spill area after the stacked args', () => {
    const regs: IntReg[] = ['ax', 'bx', 'cx', 'di', 'si', 'r8', 'r9', 'r10', 'r11'];
    const params: Record<string, unknown> = {};
    regs.forEach((r, i) => (params[names[i] as string] = { pieces: [reg(r, 8)], spill: 8 + 24 + 8 * i }));
    params.j = [stack(8, 8)];
    params.k = [stack(16, 8)];
    params.l = [stack(24, 8)];
    expect(lay(manyInts, 'abiinternal')).toEqual({
      params,
      results: { sum: [reg('ax', 8)], last: [reg('bx', 8)] },
      frameArgSize: 24 + 72,
    });
  });

  it('System V: six integer registers, then 8-byte stack slots', () => {
    const regs: IntReg[] = ['di', 'si', 'dx', 'cx', 'r8', 'r9'];
    const params: Record<string, Piece[]> = {};
    names.forEach((n, i) => (params[n] = i < 6 ? [reg(regs[i] as IntReg, 8)] : [stack(8 + 8 * (i - 6), 8)]));
    expect(lay(manyInts, 'sysv')).toEqual({
      params,
      results: { sum: [reg('ax', 8)], last: [reg('dx', 8)] },
      frameArgSize: 48,
    });
  });

  const floats = Array.from({ length: 17 }, (_, i) => [`f${i}`, t.float64] as const);
  const manyFloats = signature(floats, [['r0', t.float64]]);

  it('ABIInternal: fifteen float registers X0-X14, then the stack', () => {
    const params: Record<string, unknown> = {};
    for (let i = 0; i < 15; i++) params[`f${i}`] = { pieces: [xmm(i, 8)], spill: 8 + 16 + 8 * i };
    params.f15 = [stack(8, 8)];
    params.f16 = [stack(16, 8)];
    expect(lay(manyFloats, 'abiinternal')).toEqual({ params, results: { r0: [xmm(0, 8)] }, frameArgSize: 16 + 120 });
  });

  it('System V: eight SSE registers, then the stack', () => {
    const params: Record<string, Piece[]> = {};
    for (let i = 0; i < 17; i++) params[`f${i}`] = i < 8 ? [xmm(i, 8)] : [stack(8 + 8 * (i - 8), 8)];
    expect(lay(manyFloats, 'sysv')).toEqual({ params, results: { r0: [xmm(0, 8)] }, frameArgSize: 72 });
  });

  it('ABIInternal: a value that does not fit is stacked whole, and later values still get registers', () => {
    const sig = signature([
      ['a', t.int], ['b', t.int], ['c', t.int], ['d', t.int], ['e', t.int], ['f', t.int], ['g', t.int], ['h', t.int],
      ['s', t.string], ['i', t.int],
    ]);
    const l = layoutFunction(sig, 'abiinternal');
    expect(l.params.find((p) => p.name === 's')?.pieces).toEqual([stack(8, 16)]);
    expect(l.params.find((p) => p.name === 'i')?.pieces).toEqual([reg('r11', 8)]);
  });
});

describe('mixed integers and floats', () => {
  const sig = signature(
    [['a', t.int], ['x', t.float64], ['b', t.int32], ['y', t.float32], ['c', t.uint8], ['z', t.float64], ['s', t.string]],
    [['r0', t.float64], ['r1', t.int], ['r2', t.float32]],
  );

  it('ABIInternal: two independent register sequences; results restart at RAX and X0', () => {
    expect(lay(sig, 'abiinternal')).toEqual({
      params: {
        a: { pieces: [reg('ax', 8)], spill: 8 },
        x: { pieces: [xmm(0, 8)], spill: 16 },
        b: { pieces: [reg('bx', 4)], spill: 24 },
        y: { pieces: [xmm(1, 4)], spill: 28 },
        c: { pieces: [reg('cx', 1)], spill: 32 },
        z: { pieces: [xmm(2, 8)], spill: 40 },
        s: { pieces: [reg('di', 8, 0), reg('si', 8, 8)], spill: 48 },
      },
      results: { r0: [xmm(0, 8)], r1: [reg('ax', 8)], r2: [xmm(1, 4)] },
      frameArgSize: 56,
    });
  });

  it('System V: results struct {float64; int; float32} is 24 bytes, so returned in memory', () => {
    expect(lay(sig, 'sysv')).toEqual({
      params: {
        a: [reg('si', 8)], x: [xmm(0, 8)], b: [reg('dx', 4)], y: [xmm(1, 4)], c: [reg('cx', 1)], z: [xmm(2, 8)],
        s: [reg('r8', 8, 0), reg('r9', 8, 8)],
      },
      results: { r0: [indirect(0, 8)], r1: [indirect(8, 8)], r2: [indirect(16, 4)] },
      frameArgSize: 0,
      hidden: [reg('di', 8), reg('ax', 8)],
    });
  });
});

describe('strings, slices, interfaces', () => {
  const sig = signature(
    [['s', t.string], ['xs', sliceOf(t.int64)], ['e', t.emptyInterface], ['sh', interfaceNamed('main.Shape')], ['u', t.string]],
    [['r0', t.string], ['r1', sliceOf(t.uint8)]],
  );

  it('ABIInternal: 2 + 3 + 2 + 2 registers fill all nine; the last string goes to the stack', () => {
    expect(lay(sig, 'abiinternal')).toEqual({
      params: {
        s: { pieces: [reg('ax', 8, 0), reg('bx', 8, 8)], spill: 24 },
        xs: { pieces: [reg('cx', 8, 0), reg('di', 8, 8), reg('si', 8, 16)], spill: 40 },
        e: { pieces: [reg('r8', 8, 0), reg('r9', 8, 8)], spill: 64 },
        sh: { pieces: [reg('r10', 8, 0), reg('r11', 8, 8)], spill: 80 },
        u: [stack(8, 16)],
      },
      results: { r0: [reg('ax', 8, 0), reg('bx', 8, 8)], r1: [reg('cx', 8, 0), reg('di', 8, 8), reg('si', 8, 16)] },
      frameArgSize: 16 + 72,
    });
  });

  it('System V: slices (24 bytes) are MEMORY and go on the stack; strings and interfaces take two registers', () => {
    expect(lay(sig, 'sysv')).toEqual({
      params: {
        s: [reg('si', 8, 0), reg('dx', 8, 8)],
        xs: [stack(8, 24)],
        e: [reg('cx', 8, 0), reg('r8', 8, 8)],
        sh: [stack(32, 16)], // only R9 is left, and the interface needs two
        u: [stack(48, 16)],
      },
      results: { r0: [indirect(0, 16)], r1: [indirect(16, 24)] },
      frameArgSize: 56,
      hidden: [reg('di', 8), reg('ax', 8)],
    });
  });
});

describe('structs', () => {
  it('ABIInternal: fields recursively, integer and float fields in their own sequences', () => {
    const sig = signature([['m', Mixed]], [['r0', Mixed], ['r1', t.bool]]);
    const fields = [reg('ax', 4, 0), xmm(0, 8, 8), reg('bx', 8, 16), reg('cx', 8, 24), reg('di', 1, 32)];
    expect(lay(sig, 'abiinternal')).toEqual({
      params: { m: { pieces: fields, spill: 8 } },
      results: { r0: fields, r1: [reg('si', 1)] },
      frameArgSize: 40,
    });
  });

  it('System V: Point (two int32) packs into one register; Vec into two XMM; Mixed (40 bytes) into memory', () => {
    const sig = signature([['p', Point], ['v', Vec], ['m', Mixed]], [['r0', Point]]);
    expect(lay(sig, 'sysv')).toEqual({
      params: { p: [reg('di', 8)], v: [xmm(0, 8, 0), xmm(1, 8, 8)], m: [stack(8, 40)] },
      results: { r0: [reg('ax', 8)] },
      frameArgSize: 40,
    });
  });

  it('System V: an eightbyte holding an int and a float is INTEGER; two float32 share one XMM', () => {
    const intFloat = structOf('s1', [['i', t.int32], ['f', t.float32]]);
    const floats = structOf('s2', [['a', t.float32], ['b', t.float32], ['c', t.int64]]);
    const sig = signature([['x', intFloat], ['y', floats]], [['r0', floats]]);
    expect(lay(sig, 'sysv')).toEqual({
      params: { x: [reg('di', 8)], y: [xmm(0, 8, 0), reg('si', 8, 8)] },
      results: { r0: [xmm(0, 8, 0), reg('ax', 8, 8)] },
      frameArgSize: 0,
    });
  });

  it('System V: small results share RAX at byte offsets; a struct of results that fits returns in RAX:RDX', () => {
    const int8s = signature([['a', t.int8], ['b', t.uint8]], [['r0', t.int8], ['r1', t.uint8]]);
    expect(lay(int8s, 'sysv').results).toEqual({ r0: [reg('ax', 1, 0)], r1: [reg('ax', 1, 0, 1)] });
    const transfer = signature([['a', pointerTo(Account)], ['to', pointerTo(Account)], ['amount', t.int64]], [['ok', t.bool], ['balance', t.int64]]);
    expect(lay(transfer, 'sysv')).toEqual({
      params: { a: [reg('di', 8)], to: [reg('si', 8)], amount: [reg('dx', 8)] },
      results: { ok: [reg('ax', 1)], balance: [reg('dx', 8)] },
      frameArgSize: 0,
    });
    expect(lay(transfer, 'abiinternal').results).toEqual({ ok: [reg('ax', 1)], balance: [reg('bx', 8)] });
  });

  it('ABIInternal: a struct containing a 2-element array is stacked; a struct of too many words too', () => {
    const Grid = structOf('main.Grid', [['Cells', arrayOf(t.int32, 2)], ['Tag', t.uint8]]);
    const Big = structOf('main.Big', 'ABCDEFGHIJKL'.split('').map((n) => [n, t.int64] as const));
    const sig = signature([['g', Grid], ['k', t.int]], [['r0', Grid], ['r1', t.int32], ['big', Big]]);
    expect(lay(sig, 'abiinternal')).toEqual({
      // Stack sequence: g [0,12), align 16, r0 [16,28), big [32,128), spill k at 128.
      params: { g: [stack(8, 12)], k: { pieces: [reg('ax', 8)], spill: 8 + 128 } },
      results: { r0: [stack(24, 12)], r1: [reg('ax', 4)], big: [stack(40, 96)] },
      frameArgSize: 128 + 8,
    });
  });
});

describe('method receivers', () => {
  const describeSig = signature([['a', Account], ['prefix', t.string]], [['r0', t.string]], 'value');
  it('gc passes a value receiver like any parameter', () => {
    expect(lay(describeSig, 'abiinternal').params).toEqual({
      a: { pieces: [reg('ax', 8, 0), reg('bx', 8, 8)], spill: 8 },
      prefix: { pieces: [reg('cx', 8, 0), reg('di', 8, 8)], spill: 24 },
    });
  });
  it('gccgo passes a value receiver as a pointer to it (DWARF calls it `pointer`)', () => {
    expect(lay(describeSig, 'sysv')).toEqual({
      params: { a: [{ where: 'deref', reg: 'di', offset: 0, size: 16, valueOffset: 0 }], prefix: [reg('si', 8, 0), reg('dx', 8, 8)] },
      results: { r0: [reg('ax', 8, 0), reg('dx', 8, 8)] },
      frameArgSize: 0,
    });
  });
});

describe('arrays and zero-size values', () => {
  const arrays = signature(
    [['z', arrayOf(t.int64, 0)], ['one', arrayOf(t.int32, 1)], ['two', arrayOf(t.int64, 2)], ['three', arrayOf(t.uint8, 3)]],
    [['r0', arrayOf(t.int32, 1)], ['r1', arrayOf(t.int64, 2)]],
  );

  it('ABIInternal: length 0 is zero-size (stack, no bytes), length 1 is its element, length 2 is stacked', () => {
    expect(lay(arrays, 'abiinternal')).toEqual({
      params: { z: [], one: { pieces: [reg('ax', 4)], spill: 48 }, two: [stack(8, 16)], three: [stack(24, 3)] },
      results: { r0: [reg('ax', 4)], r1: [stack(32, 16)] },
      frameArgSize: 48,
    });
  });

  it('System V: arrays are classified like structs of their elements', () => {
    expect(lay(arrays, 'sysv')).toEqual({
      params: { z: [], one: [reg('si', 4)], two: [reg('dx', 8, 0), reg('cx', 8, 8)], three: [reg('r8', 3)] },
      results: { r0: [indirect(0, 4)], r1: [indirect(8, 16)] },
      frameArgSize: 0,
      hidden: [reg('di', 8), reg('ax', 8)],
    });
  });

  it('zero-size values take no registers and no bytes, but do align the stack under gc', () => {
    const empty = structOf('struct {}', []);
    const sig = signature([['e', empty], ['n', t.int], ['z', arrayOf(t.int64, 0)]], [['r0', empty], ['r1', t.int]]);
    expect(lay(sig, 'abiinternal')).toEqual({
      params: { e: [], n: { pieces: [reg('ax', 8)], spill: 8 }, z: [] },
      results: { r0: [], r1: [reg('ax', 8)] },
      frameArgSize: 8,
    });
    expect(lay(sig, 'abi0')).toEqual({
      params: { e: [], n: [stack(8, 8)], z: [] },
      results: { r0: [], r1: [stack(16, 8)] },
      frameArgSize: 16,
    });
    expect(lay(sig, 'sysv')).toEqual({
      params: { e: [], n: [reg('di', 8)], z: [] },
      results: { r0: [], r1: [reg('ax', 8)] },
      frameArgSize: 0,
    });
  });

  it('a struct ending in a zero-size field gets a padding byte (abi-internal.md memory layout)', () => {
    expect(structOf('s', [['a', t.int32], ['z', structOf('struct {}', [])]]).size).toBe(8);
    expect(structOf('s', [['a', t.uint8], ['z', structOf('struct {}', [])]]).size).toBe(2);
  });
});

describe('complex numbers', () => {
  const sig = signature([['a', t.complex64], ['b', t.complex128]], [['r0', t.complex128]]);
  it('ABIInternal: real and imaginary parts in consecutive X registers', () => {
    expect(lay(sig, 'abiinternal')).toEqual({
      params: { a: { pieces: [xmm(0, 4, 0), xmm(1, 4, 4)], spill: 8 }, b: { pieces: [xmm(2, 8, 0), xmm(3, 8, 8)], spill: 16 } },
      results: { r0: [xmm(0, 8, 0), xmm(1, 8, 8)] },
      frameArgSize: 24,
    });
  });
  it('System V: complex64 is one SSE eightbyte, complex128 two', () => {
    expect(lay(sig, 'sysv')).toEqual({
      params: { a: [xmm(0, 8)], b: [xmm(1, 8, 0), xmm(2, 8, 8)] },
      results: { r0: [xmm(0, 8, 0), xmm(1, 8, 8)] },
      frameArgSize: 0,
    });
  });
});

describe('abiForGoVersion', () => {
  it('decides by version, producer and compiler', () => {
    expect(abiForGoVersion('go1.15.15')).toBe('abi0');
    expect(abiForGoVersion('go1.16')).toBe('abi0');
    expect(abiForGoVersion('go1.17')).toBe('abiinternal');
    expect(abiForGoVersion('go1.27.4')).toBe('abiinternal');
    expect(abiForGoVersion('go1.17.13 X:noregabi')).toBe('abi0');
    expect(abiForGoVersion('devel go1.24-abcdef Tue')).toBe('abiinternal');
    expect(abiForGoVersion('go1.18 gccgo')).toBe('sysv');
    expect(abiForGoVersion('go1.18', 'GNU Go 12.2.0 -mtune=generic -march=x86-64 -g -O0 -fsplit-stack')).toBe('sysv');
    expect(abiForGoVersion('go1.19.8', 'Go cmd/compile go1.19.8; regabi')).toBe('abiinternal');
    expect(abiForGoVersion('go1.17', 'Go cmd/compile go1.17')).toBe('abi0');
    expect(abiForGoVersion('go1.15.15', 'Go cmd/compile go1.15.15')).toBe('abi0');
  });
  it('throws a typed error for an unrecognizable version', () => {
    expect(() => abiForGoVersion('unknown')).toThrow(GolabError);
  });
});
