/**
 * From rounds of measurements to a summary: medians per path, each path's ratio to its floor
 * (the bare uprobes at the same instructions, measured in the same round), the issue's targets
 * and whether they are met. Pure.
 */
import type { PathName, PathResult } from './paths.ts';

/** One path over all rounds. */
export interface PathSummary {
  readonly path: PathName;
  readonly probesPerCall: number;
  readonly floor?: PathName;
  readonly rounds: number;
  /** Median CPU time of the tracee's looping thread per call, in µs. */
  readonly cpuUsPerCall: number;
  /** Median wall time per call, in µs (includes waiting for a CPU on a busy machine). */
  readonly wallUsPerCall: number;
  /** Median over rounds of (this path's cpu per call / its floor's, measured right before it). */
  readonly ratio?: number;
  /** Smallest and largest per-round ratio. */
  readonly ratioRange?: readonly [number, number];
  /** Median consumer CPU per event delivered, in µs. */
  readonly consumerUsPerEvent?: number;
  readonly received?: number;
  readonly expected?: number;
  /** Lost events over all rounds. */
  readonly lost?: number;
  /** Every round's values agreed with the tracee's printout. */
  readonly verified: boolean;
  readonly note?: string;
}

/** One of the issue's targets. */
export interface TargetCheck {
  readonly name: string;
  readonly wanted: string;
  readonly measured: string;
  readonly met: boolean;
  /** When missed (or not measurable): by how much and why. */
  readonly why?: string;
}

/** The limits from issue 7. */
export const TARGETS = {
  eventRatio: 1.15,
  consumerShareOfPython: 1 / 5,
  aggregateRatio: 1.05,
} as const;

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Summarizes rounds (each a list of path results measured side by side). */
export function summarize(rounds: readonly (readonly PathResult[])[]): PathSummary[] {
  const byPath = new Map<PathName, { result: PathResult; round: number }[]>();
  rounds.forEach((round, index) => {
    for (const result of round) {
      const list = byPath.get(result.path) ?? [];
      list.push({ result, round: index });
      byPath.set(result.path, list);
    }
  });
  const cpuPerCall = (r: PathResult) => r.run.cpuNs / r.run.calls / 1000;
  const summaries: PathSummary[] = [];
  for (const [path, entries] of byPath) {
    const first = entries[0]!.result;
    const ratios: number[] = [];
    if (first.floor) {
      for (const { result, round } of entries) {
        const floor = result.pairedFloor ?? rounds[round]!.find((r) => r.path === first.floor)?.run;
        if (floor) ratios.push(result.run.cpuNs / result.run.calls / (floor.cpuNs / floor.calls));
      }
    }
    const perEvent = entries
      .filter(({ result }) => result.consumerCpuNs !== undefined && (result.received ?? 0) > 0)
      .map(({ result }) => result.consumerCpuNs! / result.received! / 1000);
    const lost = entries.some(({ result }) => result.lost !== undefined) ? entries.reduce((sum, { result }) => sum + (result.lost ?? 0), 0) : undefined;
    summaries.push({
      path,
      probesPerCall: first.probesPerCall,
      ...(first.floor ? { floor: first.floor } : {}),
      rounds: entries.length,
      cpuUsPerCall: median(entries.map(({ result }) => cpuPerCall(result))),
      wallUsPerCall: median(entries.map(({ result }) => result.run.elapsedNs / result.run.calls / 1000)),
      ...(ratios.length ? { ratio: median(ratios), ratioRange: [Math.min(...ratios), Math.max(...ratios)] as const } : {}),
      ...(perEvent.length ? { consumerUsPerEvent: median(perEvent) } : {}),
      ...(first.received !== undefined ? { received: Math.min(...entries.map(({ result }) => result.received ?? 0)) } : {}),
      ...(first.expected !== undefined ? { expected: first.expected } : {}),
      ...(lost !== undefined ? { lost } : {}),
      verified: entries.every(({ result }) => result.verified),
      ...(first.note ? { note: first.note } : {}),
    });
  }
  return summaries;
}

/** Checks the issue's targets against a summary. */
export function checkTargets(summaries: readonly PathSummary[]): TargetCheck[] {
  const get = (path: PathName) => summaries.find((s) => s.path === path);
  const checks: TargetCheck[] = [];
  const ratioCheck = (name: string, path: PathName, limit: number): TargetCheck => {
    const s = get(path);
    if (s?.ratio === undefined) return { name, wanted: `≤ ${limit}× floor`, measured: 'not measured', met: false, why: `${path} did not run` };
    const [low, high] = s.ratioRange ?? [s.ratio, s.ratio];
    const measured = `${s.ratio.toFixed(3)}× (rounds ${low.toFixed(3)}–${high.toFixed(3)})`;
    if (s.ratio <= limit) return { name, wanted: `≤ ${limit}× ${s.floor}`, measured, met: true };
    const floor = get(s.floor!);
    const extraUs = floor ? s.cpuUsPerCall - floor.cpuUsPerCall : Number.NaN;
    const noisy = low <= limit;
    return {
      name,
      wanted: `≤ ${limit}× ${s.floor}`,
      measured,
      met: false,
      why:
        `missed by ${((s.ratio / limit - 1) * 100).toFixed(1)}%: ${extraUs.toFixed(2)} µs per call above the floor` +
        (noisy ? '; some rounds met it, so part of the gap is noise from other load on this machine' : ''),
    };
  };
  checks.push(ratioCheck('golab event path per call', 'golab-events', TARGETS.eventRatio));

  const golab = get('golab-events');
  const python = get('python-bcc');
  if (golab?.consumerUsPerEvent !== undefined && python?.consumerUsPerEvent !== undefined) {
    const limit = python.consumerUsPerEvent * TARGETS.consumerShareOfPython;
    const share = golab.consumerUsPerEvent / python.consumerUsPerEvent;
    checks.push({
      name: 'consumer CPU per event vs BCC Python',
      wanted: `≤ 1/5 of python-bcc (≤ ${limit.toFixed(2)} µs)`,
      measured: `${golab.consumerUsPerEvent.toFixed(2)} µs vs ${python.consumerUsPerEvent.toFixed(2)} µs (1/${(1 / share).toFixed(1)})`,
      met: golab.consumerUsPerEvent <= limit,
      ...(golab.consumerUsPerEvent <= limit ? {} : { why: `missed by ${((golab.consumerUsPerEvent / limit - 1) * 100).toFixed(0)}%` }),
    });
  } else {
    checks.push({ name: 'consumer CPU per event vs BCC Python', wanted: '≤ 1/5 of python-bcc', measured: 'not measured', met: false, why: 'golab-events or python-bcc did not run' });
  }

  if (golab) {
    const complete = golab.received === golab.expected && golab.verified;
    checks.push({
      name: 'lost events at the full call rate',
      wanted: '0, every call seen with its values',
      measured: `${golab.lost ?? 0} lost; ${golab.received}/${golab.expected} events${golab.verified ? ', values exact' : ', values NOT exact'}`,
      met: (golab.lost ?? 0) === 0 && complete,
      ...((golab.lost ?? 0) === 0 && complete ? {} : { why: 'the ring filled up or events went missing; see the per-round results in the JSON' }),
    });
  }
  checks.push(ratioCheck('aggregation (--count) per call', 'golab-count', TARGETS.aggregateRatio));
  checks.push(ratioCheck('aggregation (--latency) per call', 'golab-latency', TARGETS.aggregateRatio));
  return checks;
}

/** The summary as a fixed-width table. */
export function formatTable(summaries: readonly PathSummary[]): string {
  const header = ['path', 'probes', 'cpu µs/call', '× floor', 'wall µs/call', 'consumer µs/event', 'events', 'lost', 'exact'];
  const rows = summaries.map((s) => [
    s.path,
    String(s.probesPerCall),
    s.path === 'unprobed' ? `${(s.cpuUsPerCall * 1000).toFixed(1)} ns` : s.cpuUsPerCall.toFixed(2),
    s.ratio === undefined ? (s.path.startsWith('floor') ? '1 (floor)' : '') : s.ratio.toFixed(3),
    s.path === 'unprobed' ? `${(s.wallUsPerCall * 1000).toFixed(1)} ns` : s.wallUsPerCall.toFixed(2),
    s.consumerUsPerEvent === undefined ? '' : s.consumerUsPerEvent.toFixed(2),
    s.expected === undefined ? '' : `${s.received}/${s.expected}`,
    s.lost === undefined ? '' : String(s.lost),
    s.verified ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The targets as lines: `met` / `MISSED` with the measured value and why. */
export function formatTargets(checks: readonly TargetCheck[]): string {
  return checks
    .map((c) => `${c.met ? 'met   ' : 'MISSED'}  ${c.name}: ${c.measured} (wanted ${c.wanted})${c.why ? `\n        ${c.why}` : ''}`)
    .join('\n');
}
