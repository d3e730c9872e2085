/**
 * Comparing what the lab traced with what the zoo printed (tracee/zoo/main.go's formats): the
 * matrix's core, shared with the zoo integration test.
 *
 * A traced value matches when its rendering equals the printed text exactly, with one
 * allowance: a part the probe reports as unreadable (with its reason) matches whatever the zoo
 * printed there, and the reason is collected so callers can show and check it.
 */
import type { TracedCall } from '../probe/calls.ts';
import { formatFloat, hex, type GoValue } from '../probe/values.ts';
import type { ZooCall } from '../../tracee/zoo/output.ts';

/** The outcome of comparing one value. */
export interface ValueComparison {
  readonly func: string;
  readonly name: string;
  readonly role: 'arg' | 'result';
  /** What the zoo printed. */
  readonly printed: string;
  /** The traced value in the zoo's format, `<?>` standing for each unreadable part. */
  readonly traced: string;
  /** True when every readable part equals the printout. */
  readonly ok: boolean;
  /** Reasons of the unreadable parts, if any. */
  readonly unreadable: readonly string[];
  /** True when the tracer produced no value of this name at all. */
  readonly missing?: boolean;
  /** True when nothing of the value could be read (its rendering is one unreadable part). */
  readonly whollyUnreadable?: boolean;
}

/** Stands for an unreadable part inside a rendering (never printed by the zoo). */
const HOLE = '\u0000';

/** What `<?>` replaces in {@link ValueComparison.traced}. */
export const UNREADABLE_MARK = '<?>';

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

/**
 * The inverse of {@link goQuote} (and of Go's %q for the escapes it emits for valid UTF-8):
 * `"tab\there"` → `tab<TAB>here`. Returns undefined for text that is not a quoted string.
 */
export function goUnquote(quoted: string): string | undefined {
  if (quoted.length < 2 || !quoted.startsWith('"') || !quoted.endsWith('"')) return undefined;
  const body = quoted.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch === '"') return undefined;
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const next = body[++i];
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', a: '\x07', b: '\b', f: '\f', v: '\v' };
    if (next !== undefined && simple[next] !== undefined) {
      out += simple[next];
      continue;
    }
    const width = next === 'x' ? 2 : next === 'u' ? 4 : next === 'U' ? 8 : 0;
    const digits = body.slice(i + 1, i + 1 + width);
    if (width === 0 || !/^[0-9a-fA-F]+$/.test(digits) || digits.length !== width) return undefined;
    out += String.fromCodePoint(Number.parseInt(digits, 16));
    i += width;
  }
  return out;
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
      // The zoo prints `<dynamic type>(<value>)`: with the type word named by the symbol table,
      // the type part is checked and only the value stays open.
      if (value.typeName !== undefined) {
        reasons.push('interface: the probe names the dynamic type (from the symbol table), not its value');
        return `${value.typeName}(${HOLE})`;
      }
      reasons.push(`interface: only the type word ${hex(value.typeWord)} and data word ${hex(value.dataWord)} (no symbol table names the type, and the dynamic value is not read)`);
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

/** Compares one traced value with its printout. */
export function compareValue(
  func: string,
  role: 'arg' | 'result',
  name: string,
  printed: string,
  value: GoValue | undefined,
): ValueComparison {
  if (value === undefined) return { func, name, role, printed, traced: '(missing)', ok: false, unreadable: [], missing: true };
  const reasons: string[] = [];
  const pattern = render(value, reasons);
  return {
    func,
    name,
    role,
    printed,
    traced: pattern.replaceAll(HOLE, UNREADABLE_MARK),
    ok: matches(pattern, printed),
    unreadable: reasons,
    ...(pattern === HOLE ? { whollyUnreadable: true } : {}),
  };
}

/**
 * Compares one traced call with the zoo's printout of it, value by value: every printed
 * argument and result (in printed order) against the traced value of the same name.
 * `results` overrides the call's own results (for calls whose results came from another event).
 */
export function compareCall(printed: ZooCall, traced: Pick<TracedCall, 'args' | 'results'>): ValueComparison[] {
  const out: ValueComparison[] = [];
  const compare = (role: 'arg' | 'result', entries: Record<string, string>, values: TracedCall['args'] | undefined) => {
    for (const [name, text] of Object.entries(entries)) {
      out.push(compareValue(printed.func, role, name, text, values?.find((v) => v.name === name)?.value));
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
