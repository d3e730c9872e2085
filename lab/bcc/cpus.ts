/** Online CPUs, as `BPF_PERF_OUTPUT` needs one reader per CPU. */
import { readFileSync } from 'node:fs';

/** Parses a kernel CPU list such as `0-3,5,7-8`. */
export function parseCpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const [from, to] = part.split('-').map((x) => Number.parseInt(x, 10));
    if (from === undefined || Number.isNaN(from)) continue;
    for (let cpu = from; cpu <= (to ?? from); cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** The CPUs listed in `/sys/devices/system/cpu/online`. */
export function onlineCpus(): number[] {
  return parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
}
