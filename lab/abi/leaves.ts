/**
 * Decomposition of a Go value into the machine words ("leaves") that calling conventions
 * assign to registers: each integer-like or floating-point scalar at its offset in the value's
 * memory layout. Strings, slices and interfaces are the structs the runtime defines them as.
 */
import type { GoType } from './types.ts';

/** A scalar part of a value. */
export interface Leaf {
  /** Byte offset in the value's memory layout. */
  readonly offset: number;
  /** Size in bytes. */
  readonly size: number;
  /** Which register file the scalar belongs to. */
  readonly cls: 'int' | 'float';
}

/** Options of {@link leavesOf}. */
export interface LeavesOptions {
  /**
   * gc's register ABI refuses arrays longer than one element (indexing them needs memory);
   * with this set, {@link leavesOf} returns undefined for any value containing one.
   */
  readonly refuseLongArrays: boolean;
}

/**
 * The scalar leaves of a value of `type` in memory order, skipping zero-size parts; undefined
 * when `refuseLongArrays` is set and the value contains an array of two or more elements.
 */
export function leavesOf(type: GoType, options: LeavesOptions): Leaf[] | undefined {
  const out: Leaf[] = [];
  return collect(type, 0, options, out) ? out : undefined;
}

function collect(type: GoType, base: number, options: LeavesOptions, out: Leaf[]): boolean {
  // The long-array refusal comes first: gc counts a [2]struct{} field as unassignable even
  // though it occupies no bytes (types.Type.Registers gives such arrays MaxUint8 registers).
  if (type.kind === 'array' && options.refuseLongArrays && type.length > 1) return false;
  if (type.size === 0) return type.kind !== 'struct' || type.fields.every((f) => collect(f.type, base, options, []));
  switch (type.kind) {
    case 'int':
    case 'bool':
    case 'pointer':
      out.push({ offset: base, size: type.size, cls: 'int' });
      return true;
    case 'float':
      out.push({ offset: base, size: type.size, cls: 'float' });
      return true;
    case 'complex': {
      const half = type.size / 2;
      out.push({ offset: base, size: half, cls: 'float' }, { offset: base + half, size: half, cls: 'float' });
      return true;
    }
    case 'string':
    case 'interface':
      out.push({ offset: base, size: 8, cls: 'int' }, { offset: base + 8, size: 8, cls: 'int' });
      return true;
    case 'slice':
      out.push(
        { offset: base, size: 8, cls: 'int' },
        { offset: base + 8, size: 8, cls: 'int' },
        { offset: base + 16, size: 8, cls: 'int' },
      );
      return true;
    case 'struct':
      return type.fields.every((field) => collect(field.type, base + field.offset, options, out));
    case 'array': {
      for (let i = 0; i < type.length; i++) {
        if (!collect(type.elem, base + i * type.elem.size, options, out)) return false;
      }
      return true;
    }
  }
}
