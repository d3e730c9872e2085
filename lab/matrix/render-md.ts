/**
 * MATRIX.md: one table row per toolchain and mode, one column per kernel and check, each cell
 * the pass / fail / unsupported counts over the zoo's functions; then the kernels' probed
 * capabilities and the reasons behind the unsupported checks.
 */
import { countStatuses, formatCounts, formatDuration } from './summary.ts';
import { CHECK_NAMES, type MatrixCell, type MatrixReport, type StatusCounts } from './types.ts';

/** `30/0/1`, with the fail count in bold when there is one. */
export function countsCell(counts: StatusCounts): string {
  const fail = counts.fail > 0 ? `**${counts.fail}**` : '0';
  return `${counts.pass}/${fail}/${counts.unsupported}`;
}

/** A reason with its instance details (addresses, value and function names) taken out, for grouping. */
export function reasonKey(reason: string): string {
  return reason
    .replace(/0x[0-9a-f]+/g, '0x…')
    .replace(/\bmain\.[^\s:;,]+/g, 'main.…')
    .replace(/-?\b\d{2,}\b/g, 'N')
    .trim();
}

/** Splits a check's reason into its parts (`a: …; b: …`) without the value names. */
export function reasonParts(reason: string): string[] {
  return reason
    .split('; ')
    // `x: …` and `a (in RAX, a ctx register write): …` name one value; the rest is the reason.
    .map((part) => part.replace(/^[A-Za-z_]\w*(?: \([^)]*\))?: /, ''))
    .map(reasonKey)
    .filter((part) => part !== '');
}

/** How often each (grouped) reason made a check unsupported, most frequent first. */
export function unsupportedReasons(cells: readonly MatrixCell[]): { check: string; reason: string; count: number }[] {
  const counts = new Map<string, { check: string; reason: string; count: number }>();
  for (const cell of cells) {
    for (const fn of cell.functions) {
      for (const check of CHECK_NAMES) {
        const result = fn.checks[check];
        if (result.status !== 'unsupported') continue;
        for (const reason of new Set(reasonParts(result.reason ?? 'no reason given'))) {
          const key = `${check}\u0000${reason}`;
          const entry = counts.get(key) ?? { check, reason, count: 0 };
          entry.count++;
          counts.set(key, entry);
        }
      }
    }
  }
  return [...counts.values()].sort((a, b) => b.count - a.count || a.check.localeCompare(b.check) || a.reason.localeCompare(b.reason));
}

const escapeCell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** The table alone (what the README embeds). */
export function renderMatrixTable(report: MatrixReport): string {
  const kernels = report.kernels.map((k) => k.name);
  const header = ['toolchain', 'ABI', 'mode', ...kernels.flatMap((k) => CHECK_NAMES.map((c) => `${k} ${c}`))];
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map((_, i) => (i < 3 ? '---' : ':---:')).join(' | ')} |`];
  for (const toolchain of report.toolchains) {
    for (const mode of report.modes) {
      const row = [toolchain.id, toolchain.abi, mode];
      for (const kernel of kernels) {
        const cells = report.cells.filter((c) => c.kernel === kernel && c.toolchain.id === toolchain.id && c.mode === mode);
        for (const check of CHECK_NAMES) row.push(cells.length === 0 ? '–' : countsCell(countStatuses(cells, [check])));
      }
      lines.push(`| ${row.map(escapeCell).join(' | ')} |`);
    }
  }
  return lines.join('\n');
}

/**
 * The compact table: a row per toolchain, a column per kernel and check, each the counts summed
 * over the build modes (what the README embeds; MATRIX.md also has the row per mode).
 */
export function renderToolchainSummary(report: MatrixReport): string {
  const kernels = report.kernels.map((k) => k.name);
  const header = ['toolchain', 'ABI', ...kernels.flatMap((k) => CHECK_NAMES.map((c) => `${k} ${c}`))];
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map((_, i) => (i < 2 ? '---' : ':---:')).join(' | ')} |`];
  for (const toolchain of report.toolchains) {
    const row = [toolchain.id, toolchain.abi];
    for (const kernel of kernels) {
      const cells = report.cells.filter((c) => c.kernel === kernel && c.toolchain.id === toolchain.id);
      for (const check of CHECK_NAMES) row.push(cells.length === 0 ? '–' : countsCell(countStatuses(cells, [check])));
    }
    lines.push(`| ${row.map(escapeCell).join(' | ')} |`);
  }
  return lines.join('\n');
}

/**
 * The unsupported reasons with a count column per kernel ('–' where a kernel has none); checks
 * that one reason makes unsupported equally often share a row.
 */
export function renderReasonsByKernel(report: MatrixReport): string {
  const kernels = report.kernels.map((k) => k.name);
  const perKernel = new Map(
    kernels.map((kernel) => [
      kernel,
      new Map(unsupportedReasons(report.cells.filter((c) => c.kernel === kernel)).map((r) => [`${r.check}\u0000${r.reason}`, r.count])),
    ]),
  );
  const lines = [
    `| check | reason | ${kernels.join(' | ')} |`,
    `| --- | --- | ${kernels.map(() => '---:').join(' | ')} |`,
  ];
  // One row for the checks a reason hits equally (a function that cannot be probed at all).
  const rows = new Map<string, { checks: string[]; reason: string; counts: string[] }>();
  for (const r of unsupportedReasons(report.cells)) {
    const key = `${r.check}\u0000${r.reason}`;
    const counts = kernels.map((kernel) => String(perKernel.get(kernel)?.get(key) ?? '–'));
    const rowKey = `${r.reason}\u0000${counts.join(',')}`;
    const row = rows.get(rowKey);
    if (row) row.checks.push(r.check);
    else rows.set(rowKey, { checks: [r.check], reason: r.reason, counts });
  }
  for (const row of rows.values()) {
    const checks = CHECK_NAMES.filter((c) => row.checks.includes(c));
    lines.push(`| ${checks.join(', ')} | ${escapeCell(row.reason)} | ${row.counts.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** The kernels with their probed capabilities. */
export function renderKernelList(report: MatrixReport): string {
  const yes = (c: { ok: boolean; reason: string }) => (c.ok ? 'yes' : `no (${c.reason})`);
  return report.kernels
    .map(
      (k) =>
        `- **${k.name}**: ${k.release}, lockdown ${k.lockdown}; bpf_probe_write_user ${yes(k.capabilities.probeWriteUser)}; ` +
        `ctx register writes ${yes(k.capabilities.ctxRegisterWrite)}; cells took ${formatDuration(k.durationMs)}` +
        (k.error ? `; **error**: ${k.error}` : ''),
    )
    .join('\n');
}

/** The whole MATRIX.md. */
export function renderMarkdown(report: MatrixReport): string {
  const functions = new Set(report.cells.flatMap((c) => c.functions.map((f) => f.func))).size;
  const failures = report.cells.flatMap((cell) =>
    cell.functions.flatMap((fn) =>
      CHECK_NAMES.filter((check) => fn.checks[check].status === 'fail').map((check) => {
        const r = fn.checks[check];
        const detail = r.expected !== undefined ? ` — expected \`${r.expected}\`, seen \`${r.seen ?? '?'}\`` : '';
        return `- ${cell.kernel} ${cell.toolchain.id} ${cell.mode} \`${fn.func}\` ${check}: ${r.reason ?? 'failed'}${detail}`;
      }),
    ),
  );
  return [
    '# Go ABI compatibility matrix',
    '',
    `Made by \`${report.command}\` at ${report.createdAt}: ${report.toolchains.length} toolchains × ${report.modes.length} modes × ${report.kernels.length} kernels, ` +
      `${functions} zoo functions, 3 checks each — ${formatCounts(report.totals)}. Total ${formatDuration(report.durationMs)} (builds ${formatDuration(report.buildMs)}).`,
    '',
    'Each cell: **pass / fail / unsupported** checks over the zoo functions of that toolchain, mode and kernel.',
    '',
    renderMatrixTable(report),
    '',
    `Per toolchain, summed over ${report.modes.join(', ')}:`,
    '',
    renderToolchainSummary(report),
    '',
    '## Kernels',
    '',
    renderKernelList(report),
    '',
    '## Why checks are unsupported',
    '',
    'Checks per kernel, by reason (value names and addresses taken out):',
    '',
    renderReasonsByKernel(report),
    '',
    ...(failures.length > 0 ? ['## Failures', '', ...failures, ''] : []),
  ].join('\n');
}
