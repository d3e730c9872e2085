import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeReport } from './output.ts';
import { checkClass, checkTitle, escapeHtml, renderHtml } from './render-html.ts';
import {
  countsCell,
  reasonKey,
  reasonParts,
  renderMarkdown,
  renderMatrixTable,
  renderReasonsByKernel,
  renderToolchainSummary,
  unsupportedReasons,
} from './render-md.ts';
import { countStatuses, failureLines, summaryLines } from './summary.ts';
import type { CheckResult, FunctionResult, KernelInfo, MatrixCell, MatrixReport } from './types.ts';

const pass: CheckResult = { status: 'pass' };
const partial: CheckResult = { status: 'pass', notes: ['x: in X0, not readable from saved registers'] };
const lockdown: CheckResult = { status: 'unsupported', reason: 'a (on the stack, bpf_probe_write_user): lockdown=integrity refuses bpf_probe_write_user' };
const wrong: CheckResult = { status: 'fail', reason: 'a differs from the printout', expected: 'a=47', seen: 'a=<9>' };

const fn = (func: string, args: CheckResult, results: CheckResult, rewrite: CheckResult): FunctionResult => ({
  func,
  symbol: `main.${func}`,
  checks: { args, results, rewrite },
});

const kernel = (name: string): KernelInfo => ({
  name,
  release: name === 'host' ? '6.18.44' : '6.1.0-56-amd64',
  lockdown: name === 'host' ? 'integrity' : 'none',
  capabilities: {
    uprobeRead: { ok: true, reason: 'read' },
    probeWriteUser: name === 'host' ? { ok: false, reason: 'lockdown=integrity refuses bpf_probe_write_user' } : { ok: true, reason: 'wrote' },
    ctxRegisterWrite: { ok: false, reason: 'the kernel refuses uprobe writes to ctx registers (invalid bpf_context access)' },
  },
  durationMs: 61_500,
});

const cell = (kernelName: string, mode: 'default' | 'stripped', functions: FunctionResult[]): MatrixCell => ({
  toolchain: { id: 'go1.15.15', kind: 'gc', version: '1.15.15', abi: 'abi0' },
  mode,
  kernel: kernelName,
  functions,
  durationMs: 1200,
});

const cells = [
  cell('host', 'default', [fn('Int8s', pass, pass, lockdown), fn('Float64s', partial, pass, lockdown)]),
  cell('host', 'stripped', [fn('Int8s', pass, pass, lockdown), fn('Float64s', partial, pass, lockdown)]),
  cell('6.1', 'default', [fn('Int8s', pass, pass, pass), fn('Float64s', wrong, pass, pass)]),
  cell('6.1', 'stripped', [fn('Int8s', pass, pass, pass), fn('Float64s', partial, pass, pass)]),
];

const report: MatrixReport = {
  schema: 'go-ebpf-lab/matrix@1',
  createdAt: '2026-11-27T08:00:00.000Z',
  command: 'golab matrix --go 1.15 --kernels host,6.1',
  durationMs: 125_000,
  buildMs: 2_000,
  toolchains: [{ id: 'go1.15.15', kind: 'gc', version: '1.15.15', abi: 'abi0' }],
  modes: ['default', 'stripped'],
  kernels: [kernel('host'), kernel('6.1')],
  cells,
  totals: countStatuses(cells),
};

describe('counts and summaries', () => {
  it('count every check of every function', () => {
    expect(report.totals).toEqual({ pass: 19, fail: 1, unsupported: 4 });
    expect(countStatuses(cells, ['rewrite'])).toEqual({ pass: 4, fail: 0, unsupported: 4 });
  });

  it('summarise per kernel and list failures with expected and seen', () => {
    const lines = summaryLines(report);
    expect(lines[0]).toBe('matrix: 1 toolchains × 2 modes × 2 kernels = 4 cells, 2 functions, 3 checks each');
    expect(lines).toContain('matrix: 6.1 (6.1.0-56-amd64, lockdown none): 11 pass, 1 fail, 0 unsupported in 1 min 1.5 s');
    expect(failureLines(report)).toEqual(['6.1 go1.15.15 default Float64s args: a differs from the printout (expected a=47, seen a=<9>)']);
  });
});

describe('MATRIX.md', () => {
  it('has a row per toolchain and mode and a column per kernel and check, with pass/fail/unsupported counts', () => {
    expect(renderMatrixTable(report).split('\n')).toEqual([
      '| toolchain | ABI | mode | host args | host results | host rewrite | 6.1 args | 6.1 results | 6.1 rewrite |',
      '| --- | --- | --- | :---: | :---: | :---: | :---: | :---: | :---: |',
      '| go1.15.15 | abi0 | default | 2/0/0 | 2/0/0 | 0/0/2 | 1/**1**/0 | 2/0/0 | 2/0/0 |',
      '| go1.15.15 | abi0 | stripped | 2/0/0 | 2/0/0 | 0/0/2 | 2/0/0 | 2/0/0 | 2/0/0 |',
    ]);
    expect(countsCell({ pass: 3, fail: 0, unsupported: 1 })).toBe('3/0/1');
  });

  it('sums the modes into a row per toolchain for the compact table', () => {
    expect(renderToolchainSummary(report).split('\n')).toEqual([
      '| toolchain | ABI | host args | host results | host rewrite | 6.1 args | 6.1 results | 6.1 rewrite |',
      '| --- | --- | :---: | :---: | :---: | :---: | :---: | :---: |',
      '| go1.15.15 | abi0 | 4/0/0 | 4/0/0 | 0/0/4 | 3/**1**/0 | 4/0/0 | 4/0/0 |',
    ]);
  });

  it('groups unsupported reasons without value names and addresses, and lists failures', () => {
    expect(reasonParts('a (on the stack, bpf_probe_write_user): lockdown=integrity refuses bpf_probe_write_user; x: in X0')).toEqual([
      'lockdown=integrity refuses bpf_probe_write_user',
      'in X0',
    ]);
    expect(reasonKey('interface: only the type word 0x4b5c20 of main.Shape')).toBe('interface: only the type word 0x… of main.…');
    expect(unsupportedReasons(cells)).toEqual([{ check: 'rewrite', reason: 'lockdown=integrity refuses bpf_probe_write_user', count: 4 }]);
    const markdown = renderMarkdown(report);
    expect(renderReasonsByKernel(report).split('\n')).toEqual([
      '| check | reason | host | 6.1 |',
      '| --- | --- | ---: | ---: |',
      '| rewrite | lockdown=integrity refuses bpf_probe_write_user | 4 | – |',
    ]);
    expect(markdown).toContain('| rewrite | lockdown=integrity refuses bpf_probe_write_user | 4 | – |');
    const inlined: CheckResult = { status: 'unsupported', reason: 'the compiler inlined every call of main.Add: no code of its own to probe (FUNCTION_INLINED)' };
    const withInlined = { ...report, cells: [...cells, cell('6.1', 'default', [fn('InlinedAdd', inlined, inlined, inlined)])] };
    expect(renderReasonsByKernel(withInlined).split('\n').slice(2)).toEqual([
      '| rewrite | lockdown=integrity refuses bpf_probe_write_user | 4 | – |',
      '| args, results, rewrite | the compiler inlined every call of main.…: no code of its own to probe (FUNCTION_INLINED) | – | 1 |',
    ]);
    expect(markdown).toContain('| go1.15.15 | abi0 | 4/0/0 | 4/0/0 | 0/0/4 | 3/**1**/0 | 4/0/0 | 4/0/0 |');
    expect(markdown).toContain('- 6.1 go1.15.15 default `Float64s` args: a differs from the printout — expected `a=47`, seen `a=<9>`');
    expect(markdown).toContain('**6.1**: 6.1.0-56-amd64, lockdown none; bpf_probe_write_user yes;');
  });
});

describe('matrix.html', () => {
  const html = renderHtml(report);
  const cellsOf = (text: string) => [...text.matchAll(/<td class="c ([^"]+)" data-check="(\w+)" data-kernel="([^"]+)" title="([^"]*)"><\/td>/g)];

  it('is self-contained: no scripts, links or external URLs', () => {
    expect(html).not.toMatch(/<script|<link|src=|url\(|https?:\/\//i);
    expect(html.startsWith('<!doctype html>')).toBe(true);
  });

  it('has one heatmap cell per function, kernel and check, colored by status, with its reason on hover', () => {
    const found = cellsOf(html);
    expect(found).toHaveLength(2 * 2 * 2 * 3); // modes × functions × kernels × checks
    const failed = found.filter((m) => m[1] === 'fail');
    expect(failed).toHaveLength(1);
    expect(failed[0]![4]).toBe(escapeHtml(checkTitle('go1.15.15 default Float64s · 6.1 · args', wrong)));
    expect(failed[0]![4]).toContain('expected: a=47\nseen: a=&lt;9&gt;');
    const unsupported = found.filter((m) => m[1] === 'unsupported');
    expect(unsupported).toHaveLength(4);
    for (const m of unsupported) expect(m[4]).toContain('lockdown=integrity refuses bpf_probe_write_user');
    expect(found.filter((m) => m[1] === 'pass partial')).toHaveLength(3);
    expect(checkClass(partial)).toBe('pass partial');
    // What a rewrite wrote, and a function without arguments, are whole passes.
    expect(checkClass({ status: 'pass', notes: ['a: -100 → -99 (in RAX, a ctx register write)'] }, 'rewrite')).toBe('pass');
    expect(checkClass({ status: 'pass', notes: ['no arguments to compare'] }, 'args')).toBe('pass');
    expect(checkClass(partial, 'args')).toBe('pass partial');
    expect(escapeHtml('seen: a=<9> & "b"')).toBe('seen: a=&lt;9&gt; &amp; &quot;b&quot;');
  });

  it('carries the summary table', () => {
    expect(html).toContain('<td class="somefail" title="1 pass, 1 fail, 0 unsupported">1/1/0</td>');
  });
});

describe('writeReport', () => {
  it('writes matrix.json (the report as is), MATRIX.md and matrix.html', () => {
    const dir = mkdtempSync(join(tmpdir(), 'golab-matrix-'));
    try {
      const files = writeReport(report, dir);
      expect(JSON.parse(readFileSync(files.json, 'utf8'))).toEqual(report);
      expect(readFileSync(files.markdown, 'utf8')).toBe(renderMarkdown(report));
      expect(readFileSync(files.html, 'utf8')).toBe(renderHtml(report));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
