/** Parsing `--rewrite` values: `a1=2021`, `ok=false`, `s="hello"`, `main.f:a1=5`. */
import { ExitCode, GolabError } from '../errors.ts';
import type { RewriteValue } from './plan.ts';

/** One parsed `--rewrite`. */
export interface RewriteSpec {
  /** The function it applies to; undefined means the only traced function. */
  readonly function: string | undefined;
  readonly param: string;
  readonly value: RewriteValue;
}

/** Parses `[FUNC:]PARAM=VALUE`: integers (decimal or 0x), true/false, or a quoted string. */
export function parseRewrite(text: string): RewriteSpec {
  const match = /^(?:(.+):)?([A-Za-z_][\w]*)=(.*)$/s.exec(text);
  if (!match) throw usage(text, 'expected PARAM=VALUE, e.g. a1=2021');
  const [, fn, param, raw = ''] = match;
  let value: RewriteValue;
  if (/^-?(0x[0-9a-f]+|\d+)$/i.test(raw)) value = raw.startsWith('-') ? -BigInt(raw.slice(1)) : BigInt(raw);
  else if (raw === 'true' || raw === 'false') value = raw === 'true';
  else if (/^".*"$/s.test(raw)) value = JSON.parse(raw) as string;
  else throw usage(text, 'the value must be an integer, true/false, or a double-quoted string');
  return { function: fn, param: param!, value };
}

function usage(text: string, why: string): GolabError {
  return new GolabError('REWRITE_SYNTAX', `cannot parse --rewrite ${JSON.stringify(text)}: ${why}`, {
    hint: 'write --rewrite a1=2021, --rewrite ok=false or --rewrite \'s="abc"\' (strings keep their length)',
    exitCode: ExitCode.usage,
  });
}

/** Groups rewrites by function; a rewrite without a function goes to the only traced one. */
export function groupRewrites(specs: readonly RewriteSpec[], functions: readonly string[]): Map<string, Map<string, RewriteValue>> {
  const grouped = new Map<string, Map<string, RewriteValue>>();
  for (const spec of specs) {
    const fn = spec.function ?? (functions.length === 1 ? functions[0] : undefined);
    if (fn === undefined || !functions.includes(fn)) {
      throw new GolabError('REWRITE_FUNCTION', `--rewrite ${spec.param}=… names no traced function`, {
        hint: `prefix it with the function, e.g. --rewrite '${functions[0] ?? 'main.f'}:${spec.param}=…'`,
        exitCode: ExitCode.usage,
      });
    }
    const map = grouped.get(fn) ?? new Map<string, RewriteValue>();
    map.set(spec.param, spec.value);
    grouped.set(fn, map);
  }
  return grouped;
}
