/** Counting check outcomes, for progress lines, MATRIX.md and the exit code. */
import { CHECK_NAMES, type CheckName, type MatrixCell, type MatrixReport, type StatusCounts } from './types.ts';

/** Zero of every status. */
export function emptyCounts(): StatusCounts {
  return { pass: 0, fail: 0, unsupported: 0 };
}

/** Counts the outcomes of `checks` (default: all three) over every function of `cells`. */
export function countStatuses(cells: readonly MatrixCell[], checks: readonly CheckName[] = CHECK_NAMES): StatusCounts {
  const counts = emptyCounts();
  for (const cell of cells) for (const fn of cell.functions) for (const check of checks) counts[fn.checks[check].status]++;
  return counts;
}

/** `2612 pass, 0 fail, 178 unsupported`. */
export function formatCounts(counts: StatusCounts): string {
  return `${counts.pass} pass, ${counts.fail} fail, ${counts.unsupported} unsupported`;
}

/** `1m 42.3s` or `42.3 s`. */
export function formatDuration(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${(seconds - minutes * 60).toFixed(1)} s`;
}

/** The summary `golab matrix` prints at the end of a run. */
export function summaryLines(report: MatrixReport): string[] {
  const functions = new Set(report.cells.flatMap((c) => c.functions.map((f) => f.func))).size;
  const lines = [
    `matrix: ${report.toolchains.length} toolchains × ${report.modes.length} modes × ${report.kernels.length} kernels = ${report.cells.length} cells, ${functions} functions, 3 checks each`,
    `matrix: ${formatCounts(report.totals)}`,
  ];
  for (const kernel of report.kernels) {
    const cells = report.cells.filter((c) => c.kernel === kernel.name);
    lines.push(
      `matrix: ${kernel.name} (${kernel.release}, lockdown ${kernel.lockdown}): ${formatCounts(countStatuses(cells))} in ${formatDuration(kernel.durationMs)}${kernel.error ? ` — ${kernel.error}` : ''}`,
    );
  }
  lines.push(`matrix: builds ${formatDuration(report.buildMs)}; total ${formatDuration(report.durationMs)}`);
  return lines;
}

/** Every failed check, as `kernel toolchain mode func check: reason (expected …, seen …)`. */
export function failureLines(report: MatrixReport, limit = 50): string[] {
  const lines: string[] = [];
  for (const cell of report.cells) {
    for (const fn of cell.functions) {
      for (const check of CHECK_NAMES) {
        const result = fn.checks[check];
        if (result.status !== 'fail') continue;
        const detail = result.expected !== undefined ? ` (expected ${result.expected}, seen ${result.seen ?? '?'})` : '';
        lines.push(`${cell.kernel} ${cell.toolchain.id} ${cell.mode} ${fn.func} ${check}: ${result.reason ?? 'failed'}${detail}`);
      }
    }
  }
  return lines.length > limit ? [...lines.slice(0, limit), `… and ${lines.length - limit} more (see matrix.json)`] : lines;
}
