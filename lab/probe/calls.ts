/**
 * Events into calls: an entry event opens a call, spill events fill in float arguments, and a
 * return event closes it with the results.
 *
 * Calls are keyed by goroutine where the ABI names it (R14 = g under ABIInternal), else by
 * thread. An entry probe fires twice when the function's prologue grows the stack and restarts
 * the function; a second entry of the same function on the same goroutine, before any return,
 * with the same argument values, is that restart and is folded into the open call.
 */
import type { DecodedEvent } from './decode.ts';
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
  /** Entry probe firings beyond the first (stack-growth restarts). */
  restarts: number;
  readonly entryKtimeNs: bigint;
  returnKtimeNs: bigint | undefined;
}

/** Assembles decoded events into calls; emits each call when it returns. */
export class CallAssembler {
  readonly #open = new Map<string, TracedCall[]>();
  readonly #onCall: (call: TracedCall) => void;
  readonly #keyByGoroutine: boolean;

  /** `keyByGoroutine`: key calls by R14 (ABIInternal's g register) instead of the thread. */
  constructor(onCall: (call: TracedCall) => void, keyByGoroutine: boolean) {
    this.#onCall = onCall;
    this.#keyByGoroutine = keyByGoroutine;
  }

  /** Feeds one event. */
  add(event: DecodedEvent): void {
    const h = event.header;
    const key = `${h.pid}:${this.#keyByGoroutine ? h.r14.toString(16) : h.tid}`;
    const stack = this.#open.get(key) ?? [];
    this.#open.set(key, stack);
    const fn = event.spec.function;
    const top = findLast(stack, (c) => c.function === fn);
    switch (event.spec.kind) {
      case 'entry': {
        if (top && top === stack.at(-1) && sameValues(top.args, event.values)) {
          top.restarts++;
          return;
        }
        stack.push({
          function: fn,
          pid: h.pid,
          tid: h.tid,
          args: [...event.values],
          results: undefined,
          restarts: 0,
          entryKtimeNs: h.ktimeNs,
          returnKtimeNs: undefined,
        });
        return;
      }
      case 'spill': {
        if (!top) return;
        for (const value of event.values) {
          const index = top.args.findIndex((a) => a.name === value.name);
          if (index >= 0) top.args[index] = value;
        }
        return;
      }
      case 'return': {
        if (!top) {
          // A return without an entry: the probe was attached mid-call.
          return;
        }
        stack.splice(stack.lastIndexOf(top), 1);
        top.results = [...event.values];
        top.returnKtimeNs = h.ktimeNs;
        this.#onCall(top);
        return;
      }
    }
  }

  /** Emits every call still open (no RET seen), e.g. when tracing stops. */
  flush(): void {
    for (const stack of this.#open.values()) for (const call of stack.splice(0)) this.#onCall(call);
    this.#open.clear();
  }
}

function sameValues(a: readonly NamedValue[], b: readonly NamedValue[]): boolean {
  return a.length === b.length && a.every((v, i) => formatValue(v.value) === formatValue(b[i]!.value));
}

function findLast<T>(items: readonly T[], predicate: (item: T) => boolean): T | undefined {
  for (let i = items.length - 1; i >= 0; i--) if (predicate(items[i]!)) return items[i];
  return undefined;
}
