/**
 * The Go type model shared by the DWARF reader (lab/elf), the ABI assigners (lab/abi) and the
 * probe generator (lab/probe). It describes just what argument placement and decoding need:
 * kind, size, alignment and, for composites, their parts.
 */

/** Common fields of every {@link GoType}. */
interface GoTypeBase {
  /** The Go spelling, e.g. `int64`, `*main.Account`, `[]string`. */
  readonly name: string;
  /** Size in bytes (`unsafe.Sizeof`). */
  readonly size: number;
  /** Alignment in bytes (`unsafe.Alignof`). */
  readonly align: number;
}

/** Signed or unsigned integers of every width, uintptr included. */
export interface GoIntType extends GoTypeBase {
  readonly kind: 'int';
  readonly signed: boolean;
}

/** `bool`. */
export interface GoBoolType extends GoTypeBase {
  readonly kind: 'bool';
}

/** `float32` and `float64`. */
export interface GoFloatType extends GoTypeBase {
  readonly kind: 'float';
}

/** `complex64` and `complex128`: two floats of half the size. */
export interface GoComplexType extends GoTypeBase {
  readonly kind: 'complex';
}

/** Pointers, and the pointer-shaped kinds: map, chan, func, unsafe.Pointer. */
export interface GoPointerType extends GoTypeBase {
  readonly kind: 'pointer';
  /** The pointed-to type when known (absent for unsafe.Pointer, map, chan, func). */
  readonly elem?: GoType;
  /** What the single word is: a plain pointer or one of the pointer-shaped kinds. */
  readonly shape: 'pointer' | 'map' | 'chan' | 'func' | 'unsafe';
}

/** `string`: a data pointer and a length. */
export interface GoStringType extends GoTypeBase {
  readonly kind: 'string';
}

/** `[]T`: a data pointer, a length and a capacity. */
export interface GoSliceType extends GoTypeBase {
  readonly kind: 'slice';
  readonly elem: GoType;
}

/** `interface{...}`: a type (or itab) word and a data word. */
export interface GoInterfaceType extends GoTypeBase {
  readonly kind: 'interface';
  /** True for `interface{}`/`any` (first word is a *_type, not an *itab). */
  readonly empty: boolean;
}

/** A field of a {@link GoStructType}. */
export interface GoStructField {
  readonly name: string;
  readonly type: GoType;
  /** Byte offset within the struct. */
  readonly offset: number;
}

/** Structs, laid out with their fields' offsets. */
export interface GoStructType extends GoTypeBase {
  readonly kind: 'struct';
  readonly fields: readonly GoStructField[];
}

/** `[N]T`. */
export interface GoArrayType extends GoTypeBase {
  readonly kind: 'array';
  readonly elem: GoType;
  readonly length: number;
}

/** Any Go type the lab can place and decode. */
export type GoType =
  | GoIntType
  | GoBoolType
  | GoFloatType
  | GoComplexType
  | GoPointerType
  | GoStringType
  | GoSliceType
  | GoInterfaceType
  | GoStructType
  | GoArrayType;

/** The kind tag of a {@link GoType}. */
export type GoKind = GoType['kind'];

/** A named parameter or result of a function. */
export interface GoParam {
  /** The name from DWARF or the signature; `~r0`-style names for unnamed results. */
  readonly name: string;
  readonly type: GoType;
}

/** A function signature as the ABI assigners take it. The receiver, if any, is `params[0]`. */
export interface GoSignature {
  readonly params: readonly GoParam[];
  readonly results: readonly GoParam[];
  /**
   * Set for methods: `params[0]` is the receiver, declared by value or by pointer. gc passes a
   * receiver like any parameter; gccgo passes a value receiver as a pointer to it, so the
   * System V layout needs to know. Absent: a plain function (or a method whose receiver kind
   * is unknown, laid out like a plain function).
   */
  readonly receiver?: 'value' | 'pointer';
}
