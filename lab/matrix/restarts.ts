/**
 * Stack-growth restarts that reach the matrix as two calls.
 *
 * A Go function whose prologue finds too little stack (or a preemption request, which uses the
 * same check) spills its register arguments, calls morestack and starts again at its entry, so
 * the entry probe fires twice for one call. lab/probe's CallAssembler folds the second firing
 * into the open call when it reads the same values. But the spill probes on that path fill in
 * the float arguments the entry probe could not read (X registers are not in the saved
 * registers); the restart's entry then reads them as unreadable again, the values no longer
 * match, and the assembler opens a second call, while the first never sees a RET. Seen once in
 * 90 cells (VM kernel 7, go1.23.5 stripped, `Float32s`): "2 calls traced; the zoo made one".
 * This folds that pair back into one call; it is a no-op once the assembler compares a restart
 * with the values its call's own entry firing read.
 */
import type { TracedCall } from '../probe/calls.ts';
import { formatValue, type NamedValue } from '../probe/values.ts';

/**
 * True when `restart` can be the re-entry of `open`: `open` never returned, both are the same
 * function in the same process, and each argument of the restart equals the open call's or is
 * unreadable at the restart (a float the open call got from a spill probe).
 */
export function isSplitRestart(open: TracedCall, restart: TracedCall): boolean {
  if (open.results !== undefined || open.function !== restart.function || open.pid !== restart.pid) return false;
  if (restart.entryKtimeNs < open.entryKtimeNs || open.args.length !== restart.args.length) return false;
  return restart.args.every((value: NamedValue, i) => {
    const before = open.args[i]!;
    return value.name === before.name && (value.value.kind === 'unreadable' || formatValue(value.value) === formatValue(before.value));
  });
}

/**
 * Folds each split restart into one call: the open call's arguments (with what the spill probes
 * read), the restart's results and return time, and one more restart. `calls` are one
 * function's, in entry order.
 */
export function foldSplitRestarts(calls: readonly TracedCall[]): TracedCall[] {
  const folded: TracedCall[] = [];
  for (const call of calls) {
    const previous = folded.at(-1);
    if (previous && isSplitRestart(previous, call)) {
      folded[folded.length - 1] = {
        ...call,
        args: previous.args,
        entryKtimeNs: previous.entryKtimeNs,
        restarts: previous.restarts + call.restarts + 1,
      };
    } else {
      folded.push(call);
    }
  }
  return folded;
}
