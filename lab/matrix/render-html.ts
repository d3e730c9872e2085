/**
 * matrix.html: a self-contained page (inline CSS, no scripts, no external assets): first a
 * heatmap — one block per toolchain × mode, a row per zoo function, a column per kernel × check —
 * colored by status, with each cell's reason, notes, expected and seen values in its title
 * (shown on hover); then the kernels and the summary table.
 */
import { countsCell, renderKernelList } from './render-md.ts';
import { countStatuses, formatCounts, formatDuration } from './summary.ts';
import { CHECK_NAMES, type CheckName, type CheckResult, type MatrixReport } from './types.ts';

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;');
}

/** The hover text of one check. */
export function checkTitle(where: string, result: CheckResult): string {
  const lines = [`${where}: ${result.status.toUpperCase()}`];
  if (result.reason) lines.push(result.reason);
  if (result.expected !== undefined) lines.push(`expected: ${result.expected}`);
  if (result.seen !== undefined) lines.push(`seen: ${result.seen}`);
  for (const note of result.notes ?? []) lines.push(`note: ${note}`);
  return lines.join('\n');
}

/**
 * The CSS class of a check: its status, and `partial` for an args or results pass with a value
 * not (fully) read — classify.ts notes those as `name: why`. A rewrite's note says what it
 * wrote, and "no arguments to compare" or a restart note take nothing from a pass.
 */
export function checkClass(result: CheckResult, check?: CheckName): string {
  const unread = (result.notes ?? []).some((note) => /^\w+: /.test(note));
  if (result.status === 'pass' && check !== 'rewrite' && unread) return 'pass partial';
  return result.status;
}

/** Column letters of the heatmap (the legend explains them). */
const CHECK_LETTERS: Readonly<Record<CheckName, string>> = { args: 'A', results: 'R', rewrite: 'W' };

const STYLE = `
body { font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 16px 24px; color: #1f2328; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 20px 0 8px; }
.meta { color: #57606a; margin: 0 0 8px; }
code { font: 12px ui-monospace, monospace; }
table.summary { border-collapse: collapse; font-size: 12px; }
table.summary th, table.summary td { border: 1px solid #d0d7de; padding: 2px 6px; text-align: center; white-space: nowrap; }
table.summary td.name { text-align: left; }
table.summary td.allpass { background: #dafbe1; } table.summary td.somefail { background: #ffd7d5; } table.summary td.mixed { background: #eef1f4; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 12px; height: 12px; vertical-align: -2px; margin-right: 4px; border-radius: 2px; }
.blocks { display: flex; flex-wrap: wrap; gap: 14px 18px; align-items: flex-start; }
table.heat { border-collapse: separate; border-spacing: 1px; font-size: 11px; }
table.heat caption { text-align: left; font-weight: 600; padding-bottom: 2px; white-space: nowrap; }
table.heat th { font-weight: 500; color: #57606a; padding: 0 1px; }
table.heat td.fn { text-align: right; padding-right: 4px; white-space: nowrap; color: #24292f; max-width: 150px; overflow: hidden; text-overflow: ellipsis; }
table.heat td.c { width: 14px; height: 12px; border-radius: 2px; cursor: help; }
table.heat td.c:hover { outline: 2px solid #0969da; }
.pass { background: #1a7f37; } .pass.partial { background: #8ddb9b; } .fail { background: #cf222e; } .unsupported { background: #b6bec8; }
`;

/** Renders the whole page. */
export function renderHtml(report: MatrixReport): string {
  const kernels = report.kernels.map((k) => k.name);
  const summaryHead = `<tr><th rowspan="2">toolchain</th><th rowspan="2">ABI</th><th rowspan="2">mode</th>${kernels
    .map((k) => `<th colspan="${CHECK_NAMES.length}">${escapeHtml(k)}</th>`)
    .join('')}</tr><tr>${kernels.map(() => CHECK_NAMES.map((c) => `<th>${c}</th>`).join('')).join('')}</tr>`;
  const summaryRows: string[] = [];
  for (const toolchain of report.toolchains) {
    for (const mode of report.modes) {
      const cells = kernels.flatMap((kernel) => {
        const matching = report.cells.filter((c) => c.kernel === kernel && c.toolchain.id === toolchain.id && c.mode === mode);
        return CHECK_NAMES.map((check) => {
          if (matching.length === 0) return '<td>–</td>';
          const counts = countStatuses(matching, [check]);
          const cls = counts.fail > 0 ? 'somefail' : counts.unsupported === 0 ? 'allpass' : 'mixed';
          return `<td class="${cls}" title="${counts.pass} pass, ${counts.fail} fail, ${counts.unsupported} unsupported">${escapeHtml(countsCell(counts).replaceAll('**', ''))}</td>`;
        });
      });
      summaryRows.push(
        `<tr><td class="name">${escapeHtml(toolchain.id)}</td><td>${toolchain.abi}</td><td>${mode}</td>${cells.join('')}</tr>`,
      );
    }
  }

  const blocks: string[] = [];
  for (const toolchain of report.toolchains) {
    for (const mode of report.modes) {
      const byKernel = new Map(
        kernels.map((kernel) => [kernel, report.cells.find((c) => c.kernel === kernel && c.toolchain.id === toolchain.id && c.mode === mode)]),
      );
      const functions = [...new Map([...byKernel.values()].flatMap((cell) => cell?.functions ?? []).map((f) => [f.func, f])).keys()];
      const head = `<tr><th></th>${kernels.map((k) => `<th colspan="${CHECK_NAMES.length}">${escapeHtml(k)}</th>`).join('')}</tr>` +
        `<tr><th></th>${kernels.map(() => CHECK_NAMES.map((c) => `<th title="${c}">${CHECK_LETTERS[c]}</th>`).join('')).join('')}</tr>`;
      const rows = functions.map((func) => {
        const tds = kernels.flatMap((kernel) => {
          const fn = byKernel.get(kernel)?.functions.find((f) => f.func === func);
          return CHECK_NAMES.map((check) => {
            if (!fn) return '<td class="c" title="not run"></td>';
            const result = fn.checks[check];
            const where = `${toolchain.id} ${mode} ${func} · ${kernel} · ${check}`;
            return `<td class="c ${checkClass(result, check)}" data-check="${check}" data-kernel="${escapeHtml(kernel)}" title="${escapeHtml(checkTitle(where, result))}"></td>`;
          });
        });
        return `<tr><td class="fn" title="${escapeHtml(func)}">${escapeHtml(func)}</td>${tds.join('')}</tr>`;
      });
      blocks.push(
        `<table class="heat"><caption>${escapeHtml(toolchain.id)} · ${mode} <span class="meta">(${toolchain.abi})</span></caption>` +
          `<thead>${head}</thead><tbody>${rows.join('')}</tbody></table>`,
      );
    }
  }

  const kernelItems = renderKernelList(report)
    .split('\n')
    .map((line) => `<li>${escapeHtml(line.replace(/^- /, '')).replace(/\*\*(.+?)\*\*/g, '<b>$1</b>')}</li>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>go-ebpf-lab: Go ABI compatibility matrix</title>
<style>${STYLE}</style></head>
<body>
<h1>Go ABI compatibility matrix</h1>
<p class="meta">${escapeHtml(report.command)} · ${escapeHtml(report.createdAt)} · ${report.toolchains.length} toolchains × ${report.modes.length} modes × ${report.kernels.length} kernels ·
${escapeHtml(formatCounts(report.totals))} · ${escapeHtml(formatDuration(report.durationMs))}</p>
<p class="legend"><span><i class="pass"></i>pass</span><span><i class="pass partial"></i>pass, some parts unreadable</span><span><i class="fail"></i>fail</span><span><i class="unsupported"></i>unsupported</span> Hover a cell for its reason, expected and seen values. Columns: A args, R results, W rewrite.</p>
<h2>Every function, toolchain, mode, kernel and check</h2>
<div class="blocks">${blocks.join('\n')}</div>
<h2>Kernels</h2>
<ul>${kernelItems}</ul>
<h2>Summary (pass/fail/unsupported)</h2>
<table class="summary"><thead>${summaryHead}</thead><tbody>${summaryRows.join('')}</tbody></table>
</body></html>
`;
}
