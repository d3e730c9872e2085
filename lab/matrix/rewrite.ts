/**
 * Which argument the matrix rewrites, and to what. The new value is derived from the value the
 * zoo printed in an unprobed run, never a constant, so a rewrite that silently does nothing
 * cannot pass by coincidence: integers move by one within their type's range, bools flip, and
 * strings keep their byte length (the probe overwrites string data in place) but change text.
 */
import type { GoParam, GoType } from '../abi/types.ts';
import type { RewriteValue } from '../probe/plan.ts';
import { goQuote, goUnquote } from './compare.ts';

/** A rewrite to make: the parameter, its new value, and how the zoo will print both. */
export interface RewriteChoice {
  readonly param: string;
  readonly value: RewriteValue;
  /** The zoo's printing of the new value. */
  readonly printed: string;
  /** The zoo's printing of the value the call really had. */
  readonly original: string;
}

/** A new value, or why the printed one has none. */
export type DerivedValue = { readonly value: RewriteValue; readonly printed: string } | { readonly reason: string };

/** The range of an integer type. */
export function intRange(type: Extract<GoType, { kind: 'int' }>): { min: bigint; max: bigint } {
  const bits = BigInt(type.size * 8);
  return type.signed ? { min: -(1n << (bits - 1n)), max: (1n << (bits - 1n)) - 1n } : { min: 0n, max: (1n << bits) - 1n };
}

/**
 * A different text of the same UTF-8 length: ASCII letters change case; failing that, digits
 * count up (9 → 0); failing that, the first printable ASCII byte becomes another. Undefined when
 * there is nothing to change (empty, or no ASCII at all).
 */
export function sameLengthVariant(text: string): string | undefined {
  const swapped = text.replace(/[A-Za-z]/g, (c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()));
  if (swapped !== text) return swapped;
  const counted = text.replace(/[0-9]/g, (d) => String((Number(d) + 1) % 10));
  if (counted !== text) return counted;
  const index = [...text].findIndex((c) => c >= ' ' && c <= '~');
  if (index < 0) return undefined;
  const chars = [...text];
  chars[index] = chars[index] === 'x' ? 'y' : 'x';
  return chars.join('');
}

/** The new value for a parameter of `type` that the zoo printed as `printed`. */
export function deriveRewriteValue(type: GoType, printed: string): DerivedValue {
  switch (type.kind) {
    case 'int': {
      if (!/^-?\d+$/.test(printed)) return { reason: `printed value ${printed} is not an integer` };
      const value = BigInt(printed);
      const { min, max } = intRange(type);
      const next = value + 1n <= max ? value + 1n : value - 1n;
      if (next < min) return { reason: `${type.name} has no second value` };
      return { value: next, printed: next.toString() };
    }
    case 'bool':
      if (printed !== 'true' && printed !== 'false') return { reason: `printed value ${printed} is not a bool` };
      return { value: printed !== 'true', printed: String(printed !== 'true') };
    case 'string': {
      const text = goUnquote(printed);
      if (text === undefined) return { reason: `printed value ${printed} is not a quoted string` };
      const variant = sameLengthVariant(text);
      if (variant === undefined) return { reason: `${printed} has no same-length variant (empty or no ASCII)` };
      return { value: variant, printed: goQuote(variant) };
    }
    default:
      return { reason: `${type.name} cannot be rewritten (only integers, bools and strings)` };
  }
}

/** True for the kinds the probe can rewrite. */
export function isRewritableKind(type: GoType): boolean {
  return type.kind === 'int' || type.kind === 'bool' || type.kind === 'string';
}

/**
 * Every rewrite candidate of a function, in parameter order: the int, bool and string
 * parameters with a printed value and a derivable new one. The runner takes the first one the
 * probe planner accepts. `reasons` says why the others were passed over.
 */
export function rewriteCandidates(
  params: readonly GoParam[],
  printedArgs: Readonly<Record<string, string>>,
): { candidates: RewriteChoice[]; reasons: string[] } {
  const candidates: RewriteChoice[] = [];
  const reasons: string[] = [];
  for (const param of params) {
    if (!isRewritableKind(param.type)) continue;
    const printed = printedArgs[param.name];
    if (printed === undefined) {
      reasons.push(`${param.name}: the zoo does not print it`);
      continue;
    }
    const derived = deriveRewriteValue(param.type, printed);
    if ('reason' in derived) reasons.push(`${param.name}: ${derived.reason}`);
    else candidates.push({ param: param.name, value: derived.value, printed: derived.printed, original: printed });
  }
  if (candidates.length === 0 && reasons.length === 0) {
    reasons.push(params.length === 0 ? 'no parameters to rewrite' : 'no int, bool or string parameter to rewrite');
  }
  return { candidates, reasons };
}
