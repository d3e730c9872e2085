/**
 * From compared values to check outcomes. The rules (also in the README's matrix section):
 *
 * - A value is *equal* when its rendering matches the printout exactly, *partly read* when it
 *   matches with some parts unreadable (each with the probe's reason), *unreadable* when nothing
 *   of it could be read, *undescribed* when the binary's DWARF does not describe it (so the probe
 *   could not look for it; a known limitation with a reason), and *wrong* otherwise: a different
 *   value, or no value where DWARF promised one.
 * - A check **fails** when any value is wrong. Otherwise it is **unsupported** when none of its
 *   values could be read at all (every one unreadable or undescribed), and it **passes** when at
 *   least one value was read and all read parts equal the printout; the parts that could not be
 *   read are kept as notes, never silently dropped. A function without arguments (or results)
 *   passes its check vacuously, with a note saying so.
 */
import type { ValueComparison } from './compare.ts';
import type { CheckResult } from './types.ts';

/** A compared value, plus why it is absent when the tracer had no reason to look for it. */
export interface ClassifiedValue {
  readonly comparison: ValueComparison;
  /** Set when the value is missing because the DWARF does not describe it. */
  readonly undescribed?: string;
}

/** The outcome of one value, as {@link classifyCheck} weighs it. */
export type ValueOutcome = 'equal' | 'partly-read' | 'unreadable' | 'undescribed' | 'wrong';

/** Classifies one value. */
export function valueOutcome(value: ClassifiedValue): ValueOutcome {
  const c = value.comparison;
  if (c.missing) return value.undescribed !== undefined ? 'undescribed' : 'wrong';
  if (!c.ok) return 'wrong';
  if (c.whollyUnreadable) return 'unreadable';
  return c.unreadable.length > 0 ? 'partly-read' : 'equal';
}

/** `name=value` pairs, as the zoo prints them. */
function pairs(values: readonly ValueComparison[], pick: (c: ValueComparison) => string): string {
  return values.map((c) => `${c.name}=${pick(c)}`).join(' ');
}

/** Unique reasons, in first-seen order, each prefixed with the value it concerns. */
function reasonsOf(values: readonly ClassifiedValue[]): string[] {
  const seen = new Set<string>();
  for (const value of values) {
    const why = value.undescribed !== undefined ? [value.undescribed] : value.comparison.unreadable;
    for (const reason of why) seen.add(`${value.comparison.name}: ${reason}`);
  }
  return [...seen];
}

/**
 * The check over one function's arguments or results. `what` names them for the vacuous case
 * (`arguments`, `results`).
 */
export function classifyCheck(values: readonly ClassifiedValue[], what: 'arguments' | 'results'): CheckResult {
  if (values.length === 0) return { status: 'pass', notes: [`no ${what} to compare`] };
  const outcomes = values.map(valueOutcome);
  const wrong = values.filter((_, i) => outcomes[i] === 'wrong').map((v) => v.comparison);
  if (wrong.length > 0) {
    const missing = wrong.filter((c) => c.missing).map((c) => c.name);
    const differing = wrong.filter((c) => !c.missing).map((c) => c.name);
    const parts = [
      ...(differing.length > 0 ? [`${differing.join(', ')} differ${differing.length === 1 ? 's' : ''} from the printout`] : []),
      ...(missing.length > 0 ? [`${missing.join(', ')} not traced`] : []),
    ];
    return {
      status: 'fail',
      reason: parts.join('; '),
      expected: pairs(wrong, (c) => c.printed),
      seen: pairs(wrong, (c) => c.traced),
    };
  }
  const read = outcomes.filter((o) => o === 'equal' || o === 'partly-read').length;
  const reasons = reasonsOf(values.filter((_, i) => outcomes[i] !== 'equal'));
  if (read === 0) return { status: 'unsupported', reason: reasons.join('; ') };
  return reasons.length > 0 ? { status: 'pass', notes: reasons } : { status: 'pass' };
}

/** The same result for all three checks, e.g. for a function that was never traced. */
export function sameForAll(result: CheckResult): { args: CheckResult; results: CheckResult; rewrite: CheckResult } {
  return { args: result, results: result, rewrite: result };
}
