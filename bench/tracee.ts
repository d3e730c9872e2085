/**
 * The benchmark's tracee: tracee/hot built with Go 1.19 through lab/toolchain's cache, run
 * once per measurement, its own report parsed.
 */
import { execa } from 'execa';
import { buildTracee, findToolchain, traceeDir, type BuildResult } from '../lab/toolchain/index.ts';

/** The Go release the targets are stated for. */
export const BENCH_GO = 'go1.19';

/** What one run of tracee/hot reports. */
export interface HotRun {
  readonly calls: number;
  /** Wall time of the loop. */
  readonly elapsedNs: number;
  /** CPU time of the looping thread (user + system, uprobe handling included). */
  readonly cpuNs: number;
  /** Sum of hot(i) = 2i + 1 over the loop: the tracer's sum of results must equal it. */
  readonly checksum: bigint;
}

/** Builds (or reuses) tracee/hot. */
export async function buildHot(go = BENCH_GO): Promise<BuildResult> {
  const toolchain = await findToolchain(go);
  return buildTracee({ tracee: traceeDir('hot'), toolchain, mode: 'default' });
}

/** Runs the loop `calls` times. Throws if the tracee fails or prints something unexpected. */
export async function runHot(binary: string, calls: number): Promise<HotRun> {
  const { stdout } = await execa(binary, ['-n', String(calls)], { timeout: 30 * 60_000 });
  return parseHotOutput(stdout);
}

/** Parses `calls=N elapsed_ns=N cpu_ns=N checksum=N`. */
export function parseHotOutput(stdout: string): HotRun {
  const match = /calls=(\d+) elapsed_ns=(\d+) cpu_ns=(\d+) checksum=(-?\d+)/.exec(stdout);
  if (!match) throw new Error(`tracee/hot printed no report: ${JSON.stringify(stdout)}`);
  return { calls: Number(match[1]), elapsedNs: Number(match[2]), cpuNs: Number(match[3]), checksum: BigInt(match[4]!) };
}

/** The checksum tracee/hot prints for `calls` calls: Σ (2i + 1) = calls². */
export function expectedChecksum(calls: number): bigint {
  return BigInt(calls) * BigInt(calls);
}
