/**
 * Issue 5's matrix, for real and small: `golab matrix` on the host for Go 1.15 (stack ABI) and
 * the newest gc (register ABI), default and stripped builds. Every check must be pass or
 * unsupported-with-a-reason (no fail), the exit status must say so, and matrix.html must render
 * in a real browser (a headless Chromium screenshot; skipped only when chromium is absent).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeCapabilities } from '../../lab/bcc/capabilities.ts';
import { CHECK_NAMES, type MatrixReport } from '../../lab/matrix/types.ts';
import { requireCapability } from '../support/capabilities.ts';
import { newestGc } from '../support/tracees.ts';

const REPO = new URL('../..', import.meta.url).pathname;

/** The first chromium on PATH, if any. */
async function findChromium(): Promise<string | undefined> {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    const found = await execa('sh', ['-c', `command -v ${name}`], { reject: false });
    if (found.exitCode === 0 && found.stdout.trim() !== '') return found.stdout.trim();
  }
  return undefined;
}

describe('golab matrix (host; Go 1.15 and newest; default and stripped)', () => {
  const out = mkdtempSync(join(tmpdir(), 'golab-matrix-test-'));
  let run: { exitCode?: number | undefined; stdout: unknown };
  let report: MatrixReport;
  let newest: string;

  beforeAll(async () => {
    newest = (await newestGc()).version;
    run = await execa(
      'node',
      ['bin/golab.mjs', 'matrix', '--go', `1.15,${newest}`, '--modes', 'default,stripped', '--kernels', 'host', '--out', out],
      { cwd: REPO, reject: false, timeout: 600_000, env: { CI: '1' } },
    );
    if (existsSync(join(out, 'matrix.json'))) report = JSON.parse(readFileSync(join(out, 'matrix.json'), 'utf8')) as MatrixReport;
  });

  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('covers every cell and function with all three checks, and fails none', async (context) => {
    await requireCapability(context, 'uprobeRead');
    expect(report.cells.map((c) => `${c.toolchain.version} ${c.mode} ${c.kernel}`)).toEqual([
      expect.stringMatching(/^1\.15\.\d+ default host$/),
      expect.stringMatching(/^1\.15\.\d+ stripped host$/),
      `${newest} default host`,
      `${newest} stripped host`,
    ]);
    for (const cell of report.cells) {
      expect(cell.error).toBeUndefined();
      expect(cell.functions.length).toBeGreaterThanOrEqual(30);
      for (const fn of cell.functions) {
        for (const check of CHECK_NAMES) {
          const result = fn.checks[check];
          const where = `${cell.toolchain.id} ${cell.mode} ${fn.func} ${check}`;
          expect(result.status, `${where}: ${result.reason} (expected ${result.expected}, seen ${result.seen})`).not.toBe('fail');
          if (result.status === 'unsupported') expect(result.reason, where).toMatch(/\S{3,}/);
          for (const note of result.notes ?? []) expect(note, where).toMatch(/\S{3,}/);
        }
      }
    }
    expect(report.totals.fail).toBe(0);
    expect(run.exitCode).toBe(0);
    expect(String(run.stdout)).toMatch(/^matrix: \d+ pass, 0 fail, \d+ unsupported$/m);
    expect(String(run.stdout)).toMatch(/^matrix: builds [\d.]+ s; total /m);
  });

  it('reads plain integer arguments and results exactly, in every cell', async (context) => {
    await requireCapability(context, 'uprobeRead');
    for (const cell of report.cells) {
      const int8s = cell.functions.find((f) => f.func === 'Int8s')!;
      expect(int8s.checks.args, cell.toolchain.id).toEqual({ status: 'pass' });
      expect(int8s.checks.results, cell.toolchain.id).toEqual({ status: 'pass' });
    }
  });

  it("decides each rewrite by the kernel's probed capability, with the probe's own reason", async (context) => {
    await requireCapability(context, 'uprobeRead');
    const caps = await probeCapabilities();
    for (const cell of report.cells) {
      const rewrite = cell.functions.find((f) => f.func === 'Int8s')!.checks.rewrite;
      // Go 1.15 passes a on the stack (bpf_probe_write_user); register-ABI Go in RAX (ctx write).
      const needed = cell.toolchain.abi === 'abi0' ? caps.probeWriteUser : caps.ctxRegisterWrite;
      if (needed.ok) {
        expect(rewrite, cell.toolchain.id).toEqual({ status: 'pass', notes: [expect.stringMatching(/^a: -100 → -99 \(/)] });
      } else {
        expect(rewrite.status, cell.toolchain.id).toBe('unsupported');
        expect(rewrite.reason, cell.toolchain.id).toContain(needed.reason);
      }
    }
  });

  it('writes MATRIX.md with a row per toolchain and mode', async (context) => {
    await requireCapability(context, 'uprobeRead');
    const markdown = readFileSync(join(out, 'MATRIX.md'), 'utf8');
    expect(markdown).toContain('| toolchain | ABI | mode | host args | host results | host rewrite |');
    for (const cell of report.cells) expect(markdown).toMatch(new RegExp(`^\\| ${cell.toolchain.id} \\| ${cell.toolchain.abi} \\| ${cell.mode} \\| \\d+/0/\\d+ \\|`, 'm'));
  });

  it('renders matrix.html in headless Chromium', async (context) => {
    await requireCapability(context, 'uprobeRead');
    const html = readFileSync(join(out, 'matrix.html'), 'utf8');
    const heatCells = html.match(/<td class="c [^"]+" data-check=/g) ?? [];
    expect(heatCells.length).toBe(report.cells.reduce((n, c) => n + c.functions.length * CHECK_NAMES.length, 0));
    const chromium = await findChromium();
    if (!chromium) return context.skip('chromium is not installed (apt-get install chromium): no screenshot');
    const profile = mkdtempSync(join(tmpdir(), 'golab-chromium-'));
    const png = join(out, 'matrix.png');
    try {
      const shot = await execa(
        chromium,
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--no-first-run',
          `--user-data-dir=${profile}`,
          `--screenshot=${png}`,
          '--window-size=1400,900',
          `file://${join(out, 'matrix.html')}`,
        ],
        { reject: false, timeout: 120_000 },
      );
      expect(shot.exitCode, shot.stderr).toBe(0);
      const bytes = readFileSync(png);
      expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
      expect(bytes.readUInt32BE(16)).toBe(1400); // IHDR width
      expect(bytes.readUInt32BE(20)).toBe(900); // IHDR height
      // A blank page compresses to a few kB; the heatmap's text and colored cells do not.
      expect(statSync(png).size).toBeGreaterThan(40_000);
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  });
});
