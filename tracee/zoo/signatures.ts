/**
 * The zoo's traced functions as the lab's type model sees them, in declaration order (receiver
 * first), written from tracee/zoo/main.go. Tests use them to compute layouts without trusting
 * DWARF's parameter order or its (sometimes duplicated) result entries, and to check the types
 * lab/elf reads from DWARF. Keep in step with main.go.
 */
import { arrayOf, goTypes as t, interfaceNamed, pointerTo, signature, sliceOf, structOf } from '../../lab/abi/construct.ts';
import type { GoSignature } from '../../lab/abi/types.ts';

const Point = structOf('main.Point', [['X', t.int32], ['Y', t.int32]]);
const Vec = structOf('main.Vec', [['X', t.float64], ['Y', t.float64]]);
const Mixed = structOf('main.Mixed', [['ID', t.int32], ['Weight', t.float64], ['Name', t.string], ['OK', t.bool]]);
const Record = structOf('main.Record', [['Name', t.string], ['Tags', sliceOf(t.string)], ['Score', t.float32]]);
const Grid = structOf('main.Grid', [['Cells', arrayOf(t.int32, 2)], ['Tag', t.uint8]]);
const Big = structOf('main.Big', 'ABCDEFGHIJKL'.split('').map((name) => [name, t.int64] as const));
const Account = structOf('main.Account', [['ID', t.int64], ['Balance', t.int64]]);
const Shape = interfaceNamed('main.Shape');
const empty = structOf('struct {}', []);

/** A zoo function: its name in the zoo's printout, and its gc and gccgo symbol names. */
export interface ZooFunction {
  /** As printed after `zoo ` (e.g. `(*Account).Transfer`). */
  readonly func: string;
  /** gc's symbol and DWARF name (e.g. `main.(*Account).Transfer`). */
  readonly gcSymbol: string;
  /** gccgo's symbol and DWARF name (pointer receivers lose their `(*…)`: `main.Account.Transfer`). */
  readonly gccgoSymbol: string;
  readonly signature: GoSignature;
  /** True for the one function gc inlines away (InlinedAdd). */
  readonly inlined?: boolean;
}

const plain = (func: string, sig: GoSignature, inlined = false): ZooFunction => ({
  func,
  gcSymbol: `main.${func}`,
  gccgoSymbol: `main.${func}`,
  signature: sig,
  ...(inlined ? { inlined } : {}),
});

/** Every function main.go calls, in call order. */
export const ZOO_FUNCTIONS: readonly ZooFunction[] = [
  plain('Int8s', signature([['a', t.int8], ['b', t.uint8]], [['r0', t.int8], ['r1', t.uint8]])),
  plain('Int16s', signature([['a', t.int16], ['b', t.uint16]], [['r0', t.int16]])),
  plain('Int32s', signature([['a', t.int32], ['b', t.uint32]], [['sum', t.int64], ['neg', t.int32]])),
  plain('Int64s', signature([['a', t.int64], ['b', t.uint64]], [['r0', t.uint64]])),
  plain('Words', signature([['a', t.int], ['b', t.uint], ['p', t.uintptr]], [['r0', t.uintptr]])),
  plain('Bools', signature([['a', t.bool], ['b', t.bool], ['n', t.int8], ['c', t.bool]], [['r0', t.bool], ['r1', t.bool]])),
  plain('Float32s', signature([['a', t.float32], ['b', t.float32]], [['r0', t.float32]])),
  plain('Float64s', signature([['a', t.float64], ['b', t.float64]], [['r0', t.float64], ['r1', t.float64]])),
  plain('Complexes', signature([['a', t.complex64], ['b', t.complex128]], [['r0', t.complex128]])),
  plain('Strings', signature([['s', t.string], ['t', t.string]], [['joined', t.string], ['n', t.int]])),
  plain('Slices', signature([['xs', sliceOf(t.int64)], ['bs', sliceOf(t.uint8)]], [['r0', t.int], ['r1', sliceOf(t.int64)]])),
  plain('Pointers', signature([['n', pointerTo(t.int64)], ['p', pointerTo(Point)], ['none', pointerTo(Point)]], [['r0', pointerTo(t.int64)]])),
  plain('StructInts', signature([['p', Point], ['scale', t.int32]], [['r0', Point]])),
  plain('StructFloats', signature([['v', Vec]], [['r0', Vec], ['r1', t.float64]])),
  plain('StructMixed', signature([['m', Mixed]], [['r0', Mixed], ['r1', t.bool]])),
  plain('StructRecord', signature([['r', Record], ['bonus', t.float32]], [['r0', Record]])),
  plain('StructOnStack', signature([['g', Grid], ['k', t.int]], [['r0', Grid], ['r1', t.int32]])),
  plain('BigResult', signature([['seed', t.int64]], [['r0', Big]])),
  plain('EmptyInterface', signature([['v', t.emptyInterface], ['w', t.emptyInterface]], [['r0', t.emptyInterface]])),
  plain('ShapeArea', signature([['s', Shape], ['factor', t.float64]], [['r0', Shape], ['r1', t.float64]])),
  plain('Arrays', signature(
    [['z', arrayOf(t.int64, 0)], ['one', arrayOf(t.int32, 1)], ['two', arrayOf(t.int64, 2)], ['three', arrayOf(t.uint8, 3)]],
    [['r0', arrayOf(t.int32, 1)], ['r1', arrayOf(t.int64, 2)]],
  )),
  plain('ZeroSize', signature([['e', empty], ['n', t.int], ['z', arrayOf(t.int64, 0)]], [['r0', empty], ['r1', t.int]])),
  plain('ManyInts', signature('abcdefghijkl'.split('').map((name) => [name, t.int64] as const), [['sum', t.int64], ['last', t.int64]])),
  plain('ManyFloats', signature(Array.from({ length: 17 }, (_, i) => [`f${i}`, t.float64] as const), [['r0', t.float64]])),
  plain('MixedArgs', signature(
    [['a', t.int], ['x', t.float64], ['b', t.int32], ['y', t.float32], ['c', t.uint8], ['z', t.float64], ['s', t.string]],
    [['r0', t.float64], ['r1', t.int], ['r2', t.float32]],
  )),
  plain('Account.Describe', signature([['a', Account], ['prefix', t.string]], [['r0', t.string]], 'value')),
  {
    func: '(*Account).Transfer',
    gcSymbol: 'main.(*Account).Transfer',
    gccgoSymbol: 'main.Account.Transfer',
    signature: signature([['a', pointerTo(Account)], ['to', pointerTo(Account)], ['amount', t.int64]], [['ok', t.bool], ['balance', t.int64]], 'pointer'),
  },
  plain('Divmod', signature([['a', t.int], ['b', t.int]], [['q', t.int], ['r', t.int], ['ok', t.bool], ['msg', t.string]])),
  plain('Sum', signature([['label', t.string], ['xs', sliceOf(t.int)]], [['r0', t.int], ['r1', t.string]])),
  plain('NoArgs', signature([])),
  plain('InlinedAdd', signature([['x', t.int]], [['r0', t.int]]), true),
];
