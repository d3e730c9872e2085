/**
 * resolveSignature on real gccgo DWARF: every zoo function's signature, as read from the zoo
 * built by gccgo-12, lays out exactly like the zoo's hand-written signature (tracee/zoo/
 * signatures.ts) under System V — results from the subprogram's type, value receivers read
 * through gccgo's `pointer` parameter, and gc-style `(*T)` names found under gccgo's spelling.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { layoutFunction } from '../abi/layout.ts';
import type { GoSignature, GoType } from '../abi/types.ts';
import { ElfFile } from '../elf/file.ts';
import { testProgram } from '../elf/test-support.ts';
import { buildTracee } from '../toolchain/build.ts';
import { findToolchain } from '../toolchain/discover.ts';
import { ZOO_FUNCTIONS } from '../../tracee/zoo/signatures.ts';
import { gccgoResultName, resolveSignature } from './signature.ts';

const gccgo = await findToolchain('gccgo');

/** A type's shape without its name (gccgo spells `main.Account` as `Account`). */
function shape(type: GoType): unknown {
  switch (type.kind) {
    case 'struct':
      return { kind: 'struct', size: type.size, fields: type.fields.map((f) => [f.name, f.offset, shape(f.type)]) };
    case 'array':
    case 'slice':
      return { kind: type.kind, size: type.size, elem: shape(type.elem) };
    case 'pointer':
      return { kind: 'pointer', shape: type.shape, elem: type.elem && type.shape === 'pointer' ? type.elem.size : undefined };
    default:
      return { kind: type.kind, size: type.size };
  }
}

/** What the layout places where, by value name, without type names. */
function placement(signature: GoSignature): unknown {
  const layout = layoutFunction(signature, 'sysv');
  const values = (list: typeof layout.params) => list.map((v) => ({ name: v.name, type: shape(v.type), pieces: v.pieces }));
  return { params: values(layout.params), results: values(layout.results), hidden: layout.hiddenResultPointer };
}

describe.skipIf(gccgo === undefined)('resolveSignature on the zoo built by gccgo', () => {
  let binary: ElfFile;
  beforeAll(async () => {
    binary = ElfFile.open((await buildTracee({ tracee: 'zoo', toolchain: gccgo!, mode: 'default' })).path);
  }, 600_000);

  it.each(ZOO_FUNCTIONS.filter((f) => !f.inlined).map((f) => [f.func, f] as const))('%s', (_name, zf) => {
    // The gc spelling on purpose: main.(*Account).Transfer is gccgo's main.Account.Transfer.
    const resolved = resolveSignature(binary, zf.gcSymbol);
    expect(resolved.abi).toBe('sysv');
    expect(resolved.producer).toMatch(/^GNU Go /);
    expect(placement(resolved.signature)).toEqual(placement(zf.signature));
    // Only value receivers change the layout; gccgo's pointer receivers are plain parameters.
    expect(resolved.signature.receiver).toBe(zf.signature.receiver === 'value' ? 'value' : undefined);
  });
});

describe.skipIf(gccgo === undefined)('resolveSignature on gccgo receivers the zoo does not have', () => {
  it('tells a value receiver (copied) from a pointer receiver the source names `pointer` (not copied)', { timeout: 600_000 }, async () => {
    const src = testProgram('receivers', {
      'main.go': `package main

type T struct{ A, B, C int64 }

//go:noinline
func (pointer *T) Ptr(n int64) int64 { return pointer.A + n }

//go:noinline
func (T) Unnamed(n int64) int64 { return n }

//go:noinline
func (pointer T) Val(n int64) int64 { return pointer.B + n }

func main() { t := T{1, 2, 3}; println(t.Ptr(1), t.Unnamed(2), t.Val(3)) }
`,
    });
    const binary = ElfFile.open((await buildTracee({ tracee: src, toolchain: gccgo!, mode: 'default' })).path);
    const summary = (name: string) => {
      const { signature } = resolveSignature(binary, name);
      return [signature.receiver, ...signature.params.map((p) => `${p.name} ${p.type.kind}:${p.type.size}`)];
    };
    expect(summary('main.(*T).Ptr')).toEqual([undefined, 'pointer pointer:8', 'n int:8']);
    expect(summary('main.T.Unnamed')).toEqual(['value', 'r.0 struct:24', 'n int:8']);
    expect(summary('main.T.Val')).toEqual(['value', 'pointer struct:24', 'n int:8']);
  });
});

describe('gccgoResultName', () => {
  it('numbers what the source leaves unnamed and keeps source names', () => {
    expect(['UNNAMED', '', '_', '$ret3', 'q', 'msg'].map((n, i) => gccgoResultName(n, i))).toEqual(['r0', 'r1', 'r2', 'r3', 'q', 'msg']);
  });
});
