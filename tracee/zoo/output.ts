/**
 * Parser for the zoo's printout (tracee/zoo/main.go).
 *
 * Each traced call prints one line, `zoo <Func> args k=v ... results k=v ...`. Values contain no
 * whitespace outside Go-quoted strings, so a line splits on whitespace that is outside quotes.
 * Values stay strings, exactly as printed: the tests compare them with the tracer's decoded
 * values formatted the same way (see the format table at the top of main.go).
 */

/** One zoo call as printed by the tracee. Records keep the printed order of their keys. */
export interface ZooCall {
  /** The function as the zoo names it, e.g. `Int8s`, `Account.Describe`, `(*Account).Transfer`. */
  readonly func: string;
  /** Argument values by parameter name (the receiver first, for methods). */
  readonly args: Record<string, string>;
  /** Result values by result name; unnamed results are `r0`, `r1`, ... */
  readonly results: Record<string, string>;
}

/** The zoo's readiness line, `ready pid=<pid>`. */
export const ZOO_READY = /^ready pid=(\d+)$/;
/** The zoo's last line. */
export const ZOO_DONE = 'zoo done';

/**
 * Splits a line into whitespace-separated tokens, keeping Go-quoted strings (with `\"` escapes)
 * whole even when they contain spaces.
 */
function tokenize(line: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let inQuote = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (inQuote) {
      current += ch;
      if (ch === '\\' && i + 1 < line.length) {
        current += line[++i] as string;
      } else if (ch === '"') {
        inQuote = false;
      }
    } else if (ch === ' ' || ch === '\t') {
      if (current !== '') tokens.push(current);
      current = '';
    } else {
      current += ch;
      if (ch === '"') inQuote = true;
    }
  }
  if (inQuote) throw new Error(`unterminated string in zoo line: ${line}`);
  if (current !== '') tokens.push(current);
  return tokens;
}

/** Parses one `zoo ...` line; returns undefined for any other line (ready, done, noise). */
export function parseZooLine(line: string): ZooCall | undefined {
  const tokens = tokenize(line.trim());
  if (tokens[0] !== 'zoo' || tokens[2] !== 'args' || tokens.length < 4) return undefined;
  const func = tokens[1] as string;
  const args: Record<string, string> = {};
  const results: Record<string, string> = {};
  let target: Record<string, string> = args;
  for (const token of tokens.slice(3)) {
    if (token === 'results') {
      if (target === results) throw new Error(`two "results" markers in zoo line: ${line}`);
      target = results;
      continue;
    }
    const eq = token.indexOf('=');
    if (eq <= 0) throw new Error(`malformed token ${JSON.stringify(token)} in zoo line: ${line}`);
    target[token.slice(0, eq)] = token.slice(eq + 1);
  }
  if (target !== results) throw new Error(`no "results" marker in zoo line: ${line}`);
  return { func, args, results };
}

/** Parses the zoo's whole printout into its calls, in call order. */
export function parseZooOutput(text: string): ZooCall[] {
  const calls: ZooCall[] = [];
  for (const line of text.split('\n')) {
    const call = parseZooLine(line);
    if (call !== undefined) calls.push(call);
  }
  return calls;
}

/** Replaces every hexadecimal pointer value with `0xPTR`, for comparing runs and builds. */
export function maskPointers(value: string): string {
  return value.replace(/0x[0-9a-f]+/g, (match) => (match === '0x0' ? match : '0xPTR'));
}
