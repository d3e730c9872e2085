/**
 * `golab vm test`: the integration suite (`vitest run --project integration`) inside VM kernels,
 * one boot per target, with a pass/fail line per target. Targets are kernel lines with optional
 * kernel arguments, written `7:lockdown=integrity`.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { GolabError, ExitCode } from '../errors.ts';
import { kernelLine } from './lines.ts';
import { cacheRoot } from './kernels.ts';
import { runInVm, PROJECT_ROOT } from './runner.ts';
import { splitAppend } from './vng.ts';

/** One kernel (and kernel command line) to run the suite on. */
export interface SuiteTarget {
  /** Kernel line id. */
  readonly line: string;
  /** Extra kernel arguments. */
  readonly append: readonly string[];
}

/**
 * The default targets of issue 4: the stack rewrite needs 6.1 without lockdown; the register
 * rewrite needs 7.x, both without lockdown and with `lockdown=integrity` (the Secure Boot default).
 */
export const DEFAULT_TARGETS: readonly SuiteTarget[] = [
  { line: '6.1', append: [] },
  { line: '7', append: [] },
  { line: '7', append: ['lockdown=integrity'] },
];

/** Parses `6.1,7,7:lockdown=integrity` (a `--append` applies to every target). */
export function parseTargets(spec: string | undefined, append: readonly string[] = []): SuiteTarget[] {
  if (spec === undefined || spec.trim() === '') {
    return DEFAULT_TARGETS.map((target) => ({ line: target.line, append: [...target.append, ...append] }));
  }
  return spec
    .split(',')
    .filter((item) => item.trim() !== '')
    .map((item) => {
      const [linePart = '', ...rest] = item.split(':');
      return { line: kernelLine(linePart).id, append: [...splitAppend(rest.join(':').replaceAll('+', ' ')), ...append] };
    });
}

/** A target's name in reports: `7 [lockdown=integrity]`. */
export function targetName(target: SuiteTarget): string {
  return target.append.length === 0 ? target.line : `${target.line} [${target.append.join(' ')}]`;
}

/** Counts from vitest's JSON reporter. */
export interface SuiteCounts {
  readonly total: number;
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
}

/** Reads the counts from a vitest JSON report; undefined when the text is not one. */
export function parseVitestJson(text: string): SuiteCounts | undefined {
  try {
    const report = JSON.parse(text) as Record<string, unknown>;
    const count = (key: string): number => (typeof report[key] === 'number' ? (report[key] as number) : 0);
    if (typeof report['numTotalTests'] !== 'number') return undefined;
    return {
      total: count('numTotalTests'),
      passed: count('numPassedTests'),
      failed: count('numFailedTests'),
      skipped: count('numPendingTests') + count('numTodoTests'),
    };
  } catch {
    return undefined;
  }
}

/** The result of one target. */
export interface SuiteResult {
  readonly target: SuiteTarget;
  /** `uname -r` of the guest. */
  readonly release: string | undefined;
  /** True when vitest exited 0. */
  readonly passed: boolean;
  /** vitest's exit status, or the runner's error code when the VM failed. */
  readonly status: number | string;
  /** From vitest's JSON report, when it wrote one. */
  readonly counts: SuiteCounts | undefined;
  /** Wall time of the boot and the suite. */
  readonly durationMs: number;
  /** Boots it took. */
  readonly attempts: number;
}

/** Options of {@link runSuite}. */
export interface SuiteOptions {
  readonly targets: readonly SuiteTarget[];
  /** Extra vitest arguments (file filters, `-t NAME`). */
  readonly vitestArgs?: readonly string[];
  /** Per-target limit; default 40 minutes. */
  readonly timeoutMs?: number;
  /** Guest memory. */
  readonly memory?: string;
  /** Stream the guest output here. */
  readonly stream?: boolean;
  /** Progress lines. */
  readonly onProgress?: (message: string) => void;
}

/** Runs the integration suite in each target, one after another; VM failures become failed results. */
export async function runSuite(options: SuiteOptions): Promise<SuiteResult[]> {
  const results: SuiteResult[] = [];
  const resultsDir = join(cacheRoot(), 'results', `${Date.now()}-${process.pid}`);
  mkdirSync(resultsDir, { recursive: true });
  try {
    for (const [index, target] of options.targets.entries()) {
      const reportFile = join(resultsDir, `vitest-${index}.json`);
      options.onProgress?.(`integration suite in ${targetName(target)}`);
      const started = Date.now();
      try {
        const run = await runInVm({
          kernel: target.line,
          append: target.append,
          command: [
            'npx',
            'vitest',
            'run',
            '--project',
            'integration',
            '--reporter=default',
            '--reporter=json',
            `--outputFile.json=${reportFile}`,
            ...(options.vitestArgs ?? []),
          ],
          cwd: PROJECT_ROOT,
          timeoutMs: options.timeoutMs ?? 40 * 60_000,
          ...(options.memory === undefined ? {} : { memory: options.memory }),
          stream: options.stream ?? true,
          ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
        });
        let counts: SuiteCounts | undefined;
        try {
          counts = parseVitestJson(readFileSync(reportFile, 'utf8'));
        } catch {
          counts = undefined;
        }
        results.push({
          target,
          release: run.kernel.release,
          passed: run.exitCode === 0,
          status: run.exitCode,
          counts,
          durationMs: run.durationMs,
          attempts: run.attempts,
        });
      } catch (error) {
        if (!(error instanceof GolabError) || error.exitCode === ExitCode.interrupted) throw error;
        process.stderr.write(`${error.describe()}\n`);
        results.push({
          target,
          release: undefined,
          passed: false,
          status: error.code,
          counts: undefined,
          durationMs: Date.now() - started,
          attempts: 0,
        });
      }
    }
  } finally {
    rmSync(resultsDir, { recursive: true, force: true });
  }
  return results;
}

/** The summary table `golab vm test` prints. */
export function formatSuiteResults(results: readonly SuiteResult[]): string {
  const lines = results.map((result) => {
    const counts = result.counts
      ? `${result.counts.passed} passed, ${result.counts.failed} failed, ${result.counts.skipped} skipped`
      : `status ${result.status}`;
    const name = `${targetName(result.target)}${result.release ? ` (${result.release})` : ''}`;
    return `${result.passed ? 'PASS' : 'FAIL'}  ${name.padEnd(44)} ${counts}  ${(result.durationMs / 1000).toFixed(0)} s`;
  });
  const passed = results.filter((result) => result.passed).length;
  // Alone on its line, in the form CI reads as a test summary.
  lines.push(`kernels: ${passed} passed, ${results.length - passed} failed`);
  return lines.join('\n');
}
