/**
 * Events into calls: an entry event opens a call, spill events fill in float arguments, and a
 * return event closes it with the results.
 *
 * Calls are keyed by goroutine where the ABI names it (R14 = g under ABIInternal), else by
 * thread. An entry probe fires twice when the function's prologue grows the stack and restarts
 * the function; a second entry of the same function on the same goroutine, before any return,
 * with the same argument values, is that restart and is folded into the open call. "The same"
 * is judged against what the first entry read, before spill probes filled in float arguments
 * (the restart's entry cannot read them either), and a parameter the first firing rewrote may
 * show its new value.
 *
 * Keyed by thread (gc before Go 1.17, gccgo), a call can start on one thread and return on
 * another: a goroutine whose system call blocked long enough loses its P and continues on
 * whichever thread picks it up. A RET with no open call of its function on its own thread is
 * matched with the process's open call of that function on another thread — the one whose entry
 * SP equals the RET's SP (a returning frame has popped exactly what it pushed) if there is one,
 * else the latest.
 */
import type { DecodedEvent, RewriteOutcome } from './decode.ts';
import type { RewriteValue } from './plan.ts';
import type { NamedValue } from './values.ts';
import { formatValue } from './values.ts';

/** One traced call. */
export interface TracedCall {
  readonly function: string;
  readonly pid: number;
  readonly tid: number;
  /** Parameters as read at entry (and after float spills). */
  readonly args: NamedValue[];
  /** Results as read at the RET; undefined while the call is open or if no RET was seen. */
  results: NamedValue[] | undefined;
  /**
   * What became of each rewrite of this call (empty without rewrites). A write that failed at
   * run time, e.g. to a literal's read-only bytes, is reported here: the call ran with the old
   * value. Over a stack-growth restart a write counts as done if either firing did it.
   */
  rewrites: readonly RewriteOutcome[];
  /** Entry probe firings beyond the first (stack-growth restarts). */
  restarts: number;
  readonly entryKtimeNs: bigint;
  returnKtimeNs: bigint | undefined;
}

/** Assembles decoded events into calls; emits each call when it returns. */
export class CallAssembler {
  /**
   * Open calls by process, then by goroutine (R14) or thread. Two levels of Maps with
   * primitive keys: a string key built per event ("pid:g") cost more than decoding the event.
   */
  readonly #open = new Map<number, Map<bigint | number, TracedCall[]>>();
  readonly #onCall: (call: TracedCall) => void;
  readonly #keyByGoroutine: boolean;
  /** The entry's own values of calls whose args spill probes have since filled in. */
  readonly #entryValues = new WeakMap<TracedCall, readonly NamedValue[]>();
  /** SP at the (latest) entry of each open call. */
  readonly #entrySp = new WeakMap<TracedCall, bigint>();

  /** `keyByGoroutine`: key calls by R14 (ABIInternal's g register) instead of the thread. */
  constructor(onCall: (call: TracedCall) => void, keyByGoroutine: boolean) {
    this.#onCall = onCall;
    this.#keyByGoroutine = keyByGoroutine;
  }

  /** Feeds one event. */
  add(event: DecodedEvent): void {
    const h = event.header;
    let byThread = this.#open.get(h.pid);
    if (byThread === undefined) {
      byThread = new Map();
      this.#open.set(h.pid, byThread);
    }
    const key = this.#keyByGoroutine ? h.r14 : h.tid;
    let stack = byThread.get(key);
    if (stack === undefined) {
      stack = [];
      byThread.set(key, stack);
    }
    const fn = event.spec.function;
    let topIndex = stack.length - 1;
    while (topIndex >= 0 && stack[topIndex]!.function !== fn) topIndex--;
    const top = topIndex >= 0 ? stack[topIndex] : undefined;
    switch (event.spec.kind) {
      case 'entry': {
        if (top && topIndex === stack.length - 1 && isRestart(top, this.#entryValues.get(top) ?? top.args, event.values)) {
          top.restarts++;
          if (!this.#keyByGoroutine) this.#entrySp.set(top, h.sp);
          top.rewrites = mergeOutcomes(top.rewrites, event.rewrites);
          return;
        }
        const call: TracedCall = {
          function: fn,
          pid: h.pid,
          tid: h.tid,
          // Decoding made these arrays for this event alone: no copy needed.
          args: event.values as NamedValue[],
          results: undefined,
          rewrites: event.rewrites,
          restarts: 0,
          entryKtimeNs: h.ktimeNs,
          returnKtimeNs: undefined,
        };
        stack.push(call);
        // Only thread-keyed calls can migrate (see #takeMigrated).
        if (!this.#keyByGoroutine) this.#entrySp.set(call, h.sp);
        return;
      }
      case 'spill': {
        if (!top) return;
        if (!this.#entryValues.has(top)) this.#entryValues.set(top, [...top.args]);
        for (const value of event.values) {
          const index = top.args.findIndex((a) => a.name === value.name);
          if (index >= 0) top.args[index] = value;
        }
        return;
      }
      case 'return': {
        let call = top;
        if (call) {
          if (topIndex === stack.length - 1) stack.pop();
          else stack.splice(topIndex, 1);
        } else {
          // Keyed by goroutine, a return without an entry means the probe was attached mid-call;
          // keyed by thread, the goroutine may have moved to another thread meanwhile.
          call = this.#keyByGoroutine ? undefined : this.#takeMigrated(byThread, fn, h.sp);
          if (!call) return;
        }
        call.results = event.values as NamedValue[];
        call.returnKtimeNs = h.ktimeNs;
        this.#onCall(call);
        return;
      }
    }
  }

  /**
   * Removes and returns the open call of `fn` that a RET with stack pointer `sp` on a thread
   * without one belongs to: the call whose entry SP is `sp`, else the latest-entered.
   */
  #takeMigrated(byThread: Map<bigint | number, TracedCall[]>, fn: string, sp: bigint): TracedCall | undefined {
    let best: { stack: TracedCall[]; index: number; call: TracedCall } | undefined;
    for (const stack of byThread.values()) {
      for (let i = stack.length - 1; i >= 0; i--) {
        const call = stack[i]!;
        if (call.function !== fn) continue;
        if (this.#entrySp.get(call) === sp) {
          best = { stack, index: i, call };
          break;
        }
        if (!best || call.entryKtimeNs > best.call.entryKtimeNs) best = { stack, index: i, call };
      }
      if (best && this.#entrySp.get(best.call) === sp) break;
    }
    if (!best) return undefined;
    best.stack.splice(best.index, 1);
    return best.call;
  }

  /** Emits every call still open (no RET seen), e.g. when tracing stops. */
  flush(): void {
    for (const byThread of this.#open.values()) for (const stack of byThread.values()) for (const call of stack.splice(0)) this.#onCall(call);
    this.#open.clear();
  }
}

/** A restart's outcomes folded into the call's: a write done at either firing is done. */
function mergeOutcomes(first: readonly RewriteOutcome[], again: readonly RewriteOutcome[]): readonly RewriteOutcome[] {
  if (again.length !== first.length) return first;
  return first.map((outcome, i) => (outcome.ok ? outcome : again[i]!.ok ? again[i]! : outcome));
}

/**
 * Whether `again` is a restart's reading of the call that read `first` at entry: every value the
 * same, except that a parameter the call rewrote may have its new value.
 */
function isRestart(call: TracedCall, first: readonly NamedValue[], again: readonly NamedValue[]): boolean {
  if (first.length !== again.length) return false;
  for (let i = 0; i < first.length; i++) {
    const before = formatValue(first[i]!.value);
    const now = formatValue(again[i]!.value);
    if (before === now) continue;
    const rewrite = call.rewrites.find((r) => r.param === first[i]!.name && r.ok);
    if (rewrite === undefined || !holds(again[i]!, rewrite.value)) return false;
  }
  return true;
}

/** Whether a decoded value is the rewrite value `value`. */
function holds(named: NamedValue, value: RewriteValue): boolean {
  const decoded = named.value;
  switch (decoded.kind) {
    case 'int':
      return typeof value === 'bigint' && decoded.value === value;
    case 'bool':
      return typeof value === 'boolean' && decoded.value === value;
    case 'string':
      return typeof value === 'string' && decoded.value === value;
    default:
      return false;
  }
}
