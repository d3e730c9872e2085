/**
 * Decoded Go values, as the probe decoder produces them and the CLI and tests consume them.
 */

/** A Go value read by a probe, or the reason it could not be. */
export type GoValue =
  | { readonly kind: 'int'; readonly value: bigint }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'float'; readonly value: number; readonly bits: 32 | 64 }
  | { readonly kind: 'complex'; readonly real: number; readonly imag: number; readonly bits: 64 | 128 }
  | { readonly kind: 'string'; readonly value: string; readonly length: number; readonly truncated: boolean }
  | {
      readonly kind: 'slice';
      readonly address: bigint;
      readonly length: number;
      readonly capacity: number;
      /** The first elements (at most the probe's element bound). */
      readonly elements: readonly GoValue[];
      readonly truncated: boolean;
    }
  | { readonly kind: 'pointer'; readonly address: bigint; readonly target?: GoValue }
  | { readonly kind: 'struct'; readonly fields: readonly { readonly name: string; readonly value: GoValue }[] }
  | { readonly kind: 'array'; readonly elements: readonly GoValue[] }
  | {
      readonly kind: 'interface';
      /** The first word: a *runtime._type (empty interface) or *runtime.itab. */
      readonly typeWord: bigint;
      readonly dataWord: bigint;
      /** The dynamic type's name, when the binary's symbols name the type word. */
      readonly typeName?: string;
    }
  | { readonly kind: 'unreadable'; readonly reason: string };

/** A named value: a parameter or result. */
export interface NamedValue {
  readonly name: string;
  /** The Go type's spelling. */
  readonly type: string;
  readonly value: GoValue;
}

/** Converts a value to plain JSON (bigints become decimal strings, addresses hex). */
export function valueToJson(value: GoValue): unknown {
  switch (value.kind) {
    case 'int':
      return value.value.toString();
    case 'bool':
      return value.value;
    case 'float':
      // The shortest decimal of the float's own width: 66.88, not float32's 66.87999725341797.
      return Number.isFinite(value.value) ? Number(formatFloat(value.value, value.bits)) : formatFloat(value.value, value.bits);
    case 'complex': {
      const bits = value.bits === 64 ? 32 : 64;
      return { real: Number(formatFloat(value.real, bits)), imag: Number(formatFloat(value.imag, bits)) };
    }
    case 'string':
      return value.truncated ? { value: value.value, length: value.length, truncated: true } : value.value;
    case 'slice':
      return {
        address: hex(value.address),
        len: value.length,
        cap: value.capacity,
        elements: value.elements.map(valueToJson),
        ...(value.truncated ? { truncated: true } : {}),
      };
    case 'pointer':
      return value.target === undefined ? hex(value.address) : { address: hex(value.address), target: valueToJson(value.target) };
    case 'struct':
      return Object.fromEntries(value.fields.map((f) => [f.name, valueToJson(f.value)]));
    case 'array':
      return value.elements.map(valueToJson);
    case 'interface':
      return { type: value.typeName ?? hex(value.typeWord), data: hex(value.dataWord) };
    case 'unreadable':
      return { unreadable: value.reason };
  }
}

/** `0x…` spelling of an address. */
export function hex(address: bigint): string {
  return `0x${address.toString(16)}`;
}

/**
 * A compact, Go-like rendering for the CLI: `100`, `true`, `66.88`, `"hi"`, `[1,2](len=2,cap=4)`,
 * `{X:1,Y:2}`, `0xc000012345->{…}`, and `<unreadable: why>`.
 */
export function formatValue(value: GoValue): string {
  switch (value.kind) {
    case 'int':
      return value.value.toString();
    case 'bool':
      return String(value.value);
    case 'float':
      return formatFloat(value.value, value.bits);
    case 'complex': {
      const bits = value.bits === 64 ? 32 : 64;
      const imag = formatFloat(value.imag, bits);
      return `(${formatFloat(value.real, bits)}${imag.startsWith('-') ? '' : '+'}${imag}i)`;
    }
    case 'string':
      return `${JSON.stringify(value.value)}${value.truncated ? `…(len=${value.length})` : ''}`;
    case 'slice':
      return `[${value.elements.map(formatValue).join(',')}${value.truncated ? ',…' : ''}](len=${value.length},cap=${value.capacity})`;
    case 'pointer':
      if (value.address === 0n) return "0x0";
      return value.target === undefined ? hex(value.address) : `${hex(value.address)}->${formatValue(value.target)}`;
    case 'struct':
      return `{${value.fields.map((f) => `${f.name}:${formatValue(f.value)}`).join(',')}}`;
    case 'array':
      return `[${value.elements.map(formatValue).join(',')}]`;
    case 'interface':
      if (value.typeWord === 0n) return 'nil';
      return `${value.typeName ?? hex(value.typeWord)}(data=${hex(value.dataWord)})`;
    case 'unreadable':
      return `<unreadable: ${value.reason}>`;
  }
}

/**
 * Go's `strconv.FormatFloat(v, 'g', -1, bits)`: the shortest decimal that reads back as the same
 * float of that width, in exponent form when the exponent is below -4 or at least 6 (Go uses
 * precision 6 for that decision when printing the shortest form).
 */
export function formatFloat(value: number, bits: 32 | 64): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  let exponential = value.toExponential();
  if (bits === 32) {
    for (let digits = 1; digits <= 9; digits++) {
      const candidate = value.toExponential(digits - 1);
      if (Math.fround(Number(candidate)) === value) {
        exponential = candidate;
        break;
      }
    }
  }
  const [mantissa = '', exponentText = '0'] = exponential.split('e');
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace(/^-/, '').replace('.', '').replace(/0+$/, '') || '0';
  const exponent = Number(exponentText);
  const sign = negative ? '-' : '';
  if (exponent < -4 || exponent >= 6) {
    const expSign = exponent < 0 ? '-' : '+';
    const rest = digits.length > 1 ? `.${digits.slice(1)}` : '';
    return `${sign}${digits[0]}${rest}e${expSign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
  const integer = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
  const fraction = digits.slice(exponent + 1);
  return `${sign}${integer}${fraction ? `.${fraction}` : ''}`;
}
