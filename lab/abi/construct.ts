/**
 * Constructors for {@link GoType} values with Go's amd64 sizes, alignments and struct layout
 * (abi-internal.md, "Memory layout"). The DWARF reader builds types from what the compiler
 * emitted; these build them from Go spelling, for tests and for signatures given by hand.
 */
import type {
  GoArrayType,
  GoBoolType,
  GoComplexType,
  GoFloatType,
  GoIntType,
  GoInterfaceType,
  GoParam,
  GoPointerType,
  GoSignature,
  GoSliceType,
  GoStringType,
  GoStructType,
  GoType,
} from './types.ts';

/** Rounds `value` up to a multiple of `alignment` (a power of two, or 0/1 for none). */
export function alignUp(value: number, alignment: number): number {
  if (alignment <= 1) return value;
  return Math.ceil(value / alignment) * alignment;
}

function int(name: string, size: number, signed: boolean): GoIntType {
  return { kind: 'int', name, size, align: size, signed };
}

function float(name: string, size: number): GoFloatType {
  return { kind: 'float', name, size, align: size };
}

/** Go's predeclared scalar types on amd64. */
export const goTypes = {
  int8: int('int8', 1, true),
  int16: int('int16', 2, true),
  int32: int('int32', 4, true),
  int64: int('int64', 8, true),
  int: int('int', 8, true),
  uint8: int('uint8', 1, false),
  uint16: int('uint16', 2, false),
  uint32: int('uint32', 4, false),
  uint64: int('uint64', 8, false),
  uint: int('uint', 8, false),
  uintptr: int('uintptr', 8, false),
  bool: { kind: 'bool', name: 'bool', size: 1, align: 1 } as GoBoolType,
  float32: float('float32', 4),
  float64: float('float64', 8),
  complex64: { kind: 'complex', name: 'complex64', size: 8, align: 4 } as GoComplexType,
  complex128: { kind: 'complex', name: 'complex128', size: 16, align: 8 } as GoComplexType,
  string: { kind: 'string', name: 'string', size: 16, align: 8 } as GoStringType,
  unsafePointer: { kind: 'pointer', name: 'unsafe.Pointer', size: 8, align: 8, shape: 'unsafe' } as GoPointerType,
  emptyInterface: { kind: 'interface', name: 'interface {}', size: 16, align: 8, empty: true } as GoInterfaceType,
} as const;

/** `*elem`. */
export function pointerTo(elem: GoType): GoPointerType {
  return { kind: 'pointer', name: `*${elem.name}`, size: 8, align: 8, elem, shape: 'pointer' };
}

/** `[]elem`. */
export function sliceOf(elem: GoType): GoSliceType {
  return { kind: 'slice', name: `[]${elem.name}`, size: 24, align: 8, elem };
}

/** `[length]elem`. */
export function arrayOf(elem: GoType, length: number): GoArrayType {
  return { kind: 'array', name: `[${length}]${elem.name}`, size: elem.size * length, align: elem.align, elem, length };
}

/** A non-empty interface type such as `main.Shape`. */
export function interfaceNamed(name: string): GoInterfaceType {
  return { kind: 'interface', name, size: 16, align: 8, empty: false };
}

/**
 * A struct laid out as Go lays it out: each field at the next offset aligned for it, the size
 * rounded up to the largest alignment, and one padding byte when a non-empty struct ends in a
 * zero-size field (so `&s.last` cannot point past the object).
 */
export function structOf(name: string, fields: ReadonlyArray<readonly [string, GoType]>): GoStructType {
  let offset = 0;
  let align = 1;
  const laidOut = fields.map(([fieldName, type]) => {
    offset = alignUp(offset, type.align);
    const field = { name: fieldName, type, offset };
    offset += type.size;
    align = Math.max(align, type.align);
    return field;
  });
  const last = fields[fields.length - 1];
  if (last !== undefined && last[1].size === 0 && offset > 0) offset += 1;
  return { kind: 'struct', name, size: alignUp(offset, align), align, fields: laidOut };
}

/** A signature from `[name, type]` pairs; for methods, put the receiver first and say how it is declared. */
export function signature(
  params: ReadonlyArray<readonly [string, GoType]>,
  results: ReadonlyArray<readonly [string, GoType]> = [],
  receiver?: 'value' | 'pointer',
): GoSignature {
  const toParams = (list: ReadonlyArray<readonly [string, GoType]>): GoParam[] =>
    list.map(([name, type]) => ({ name, type }));
  return { params: toParams(params), results: toParams(results), ...(receiver === undefined ? {} : { receiver }) };
}
