/**
 * Comparing what the lab traced with what the zoo printed (tracee/zoo/main.go's formats).
 *
 * A traced value matches when its rendering equals the printed text exactly, with one
 * allowance: a part the probe reports as unreadable (with its reason) matches whatever the zoo
 * printed there, and the reason is collected so the test can show and check it.
 */
import type { TracedCall } from '../../lab/probe/calls.ts';
import { formatFloat, hex, type GoValue } from '../../lab/probe/values.ts';
import type { ZooCall } from '../../tracee/zoo/output.ts';

/** The outcome of comparing one value. */
export interface ValueComparison {
  readonly func: string;
  readonly name: string;
  readonly role: 'arg' | 'result';
  readonly printed: string;
  readonly traced: string;
  readonly ok: boolean;
  /** Reasons of the unreadable parts, if any. */
  readonly unreadable: readonly string[];
}

const HOLE = '\u0000';

/** Go's strconv.Quote for the characters the zoo uses. */
export function goQuote(text: string): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Renders a traced value in the zoo's format, with HOLE for unreadable parts. */
function render(value: GoValue, reasons: string[]): string {
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
      return `(${formatFloat(value.real, bits)}${/^[-+]/.test(imag) ? '' : '+'}${imag}i)`;
    }
    case 'string':
      if (value.truncated) {
        reasons.push(`string truncated at ${value.value.length} of ${value.length} bytes`);
        return HOLE;
      }
      return goQuote(value.value);
    case 'slice':
      if (value.truncated) reasons.push(`slice elements cut at ${value.elements.length} of ${value.length}`);
      return `[${value.truncated ? HOLE : value.elements.map((e) => render(e, reasons)).join(',')}](len=${value.length},cap=${value.capacity})`;
    case 'pointer':
      if (value.address === 0n) return '0x0';
      return value.target === undefined ? hex(value.address) : `${hex(value.address)}->${render(value.target, reasons)}`;
    case 'struct':
      return `{${value.fields.map((f) => `${f.name}:${render(f.value, reasons)}`).join(',')}}`;
    case 'array':
      return `[${value.elements.map((e) => render(e, reasons)).join(',')}]`;
    case 'interface':
      if (value.typeWord === 0n) return 'nil';
      reasons.push(`interface: the probe reports the type word ${hex(value.typeWord)} and data word ${hex(value.dataWord)}, not the dynamic value`);
      return HOLE;
    case 'unreadable':
      reasons.push(value.reason);
      return HOLE;
  }
}

/** True when `printed` matches `pattern`, where each HOLE stands for any non-empty text. */
function matches(pattern: string, printed: string): boolean {
  const regex = pattern
    .split(HOLE)
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.+?');
  return new RegExp(`^${regex}$`, 's').test(printed);
}

/** Compares one traced call with the zoo's printout of it, value by value. */
export function compareCall(printed: ZooCall, traced: TracedCall): ValueComparison[] {
  const out: ValueComparison[] = [];
  const compare = (role: 'arg' | 'result', entries: Record<string, string>, values: TracedCall['args'] | undefined) => {
    for (const [name, text] of Object.entries(entries)) {
      const value = values?.find((v) => v.name === name);
      if (!value) {
        out.push({ func: printed.func, name, role, printed: text, traced: '(missing)', ok: false, unreadable: [] });
        continue;
      }
      const reasons: string[] = [];
      const pattern = render(value.value, reasons);
      out.push({
        func: printed.func,
        name,
        role,
        printed: text,
        traced: pattern.replaceAll(HOLE, '<?>'),
        ok: matches(pattern, text),
        unreadable: reasons,
      });
    }
  };
  compare('arg', printed.args, traced.args);
  compare('result', printed.results, traced.results);
  return out;
}

/** The symbol gc gives a zoo function: `Int8s` → `main.Int8s`, `(*Account).Transfer` → `main.(*Account).Transfer`. */
export function zooSymbol(func: string): string {
  return `main.${func}`;
}
