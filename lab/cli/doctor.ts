/**
 * `golab doctor`: what this host lets the lab do, and why.
 *
 * Every capability is probed by loading and attaching a tiny program (lab/bcc/capabilities.ts);
 * the kernel version is reported, never used to decide.
 */
import type { Command } from 'commander';
import { ExitCode, GolabError } from '../errors.ts';
import { probeCapabilities, type KernelCapabilities } from '../bcc/capabilities.ts';
import { hostReport, type HostReport } from '../bcc/host.ts';
import { loadLibBcc } from '../bcc/library.ts';
import type { BccApiLevel } from '../bcc/signatures.ts';
import { discoverToolchains } from '../toolchain/discover.ts';

/** The libbcc part of the report. */
export type LibBccReport =
  | { readonly ok: true; readonly path: string; readonly version: string; readonly api: BccApiLevel }
  | { readonly ok: false; readonly error: string; readonly hint: string | undefined };

/** A Go toolchain as doctor lists it. */
export interface ToolchainReport {
  readonly id: string;
  readonly kind: string;
  readonly version: string;
  readonly abi: string;
  readonly goBinary: string;
}

/** What `golab doctor --json` prints. */
export interface DoctorReport extends HostReport {
  /** True when uprobes can read Go arguments here: libbcc loads and the read probe passed. */
  readonly canTrace: boolean;
  readonly libbcc: LibBccReport;
  /** Absent when libbcc could not be loaded. */
  readonly capabilities: KernelCapabilities | undefined;
  readonly toolchains: readonly ToolchainReport[];
}

/** Collects the whole report. */
export async function collectDoctorReport(): Promise<DoctorReport> {
  const host = hostReport();
  let libbcc: LibBccReport;
  let capabilities: KernelCapabilities | undefined;
  try {
    const bcc = loadLibBcc();
    libbcc = { ok: true, path: bcc.path, version: bcc.version, api: bcc.api };
    capabilities = await probeCapabilities(bcc);
  } catch (error) {
    libbcc = {
      ok: false,
      error: error instanceof Error ? error.message : String(error),
      hint: error instanceof GolabError ? error.hint : undefined,
    };
  }
  const toolchains = (await discoverToolchains().catch(() => [])).map((t) => ({
    id: t.id,
    kind: t.kind,
    version: t.version,
    abi: t.abi,
    goBinary: t.goBinary,
  }));
  return {
    ...host,
    canTrace: libbcc.ok && capabilities?.uprobeRead.ok === true,
    libbcc,
    capabilities,
    toolchains,
  };
}

const mark = (ok: boolean) => (ok ? 'yes' : 'NO ');

/** Renders the report as the table `golab doctor` prints. */
export function formatDoctorReport(report: DoctorReport): string {
  const rows: [string, string][] = [];
  const p = report.privileges;
  const caps = Object.entries(p.capabilities)
    .map(([name, held]) => `${name}=${held ? 'yes' : 'no'}`)
    .join(' ');
  rows.push(['user', `uid ${p.uid}${p.root ? ' (root)' : ''}; ${caps}`]);
  rows.push(['kernel', report.kernel]);
  rows.push(['lockdown', report.lockdown]);
  rows.push(['BTF', report.btf ? '/sys/kernel/btf/vmlinux' : 'absent']);
  rows.push(['tracefs', report.tracefs ?? 'not mounted (mount -t tracefs tracefs /sys/kernel/tracing)']);
  const h = report.headers;
  rows.push([
    'kernel headers',
    h.ok
      ? `${h.path} (via ${h.via}${h.linkedTo ? `, linked to ${h.linkedTo}` : ''})`
      : 'NOT FOUND: install linux-headers-$(uname -r) or run sudo ./provision/host.sh',
  ]);
  rows.push(['libbcc', report.libbcc.ok ? `${report.libbcc.version} at ${report.libbcc.path} (bcc_func_load: ${report.libbcc.api.funcLoadArity} args)` : `NOT LOADED: ${report.libbcc.error}`]);
  const c = report.capabilities;
  if (c) {
    rows.push(['uprobe reads', `${mark(c.uprobeRead.ok)} ${c.uprobeRead.reason}`]);
    rows.push(['bpf_probe_write_user', `${mark(c.probeWriteUser.ok)} ${c.probeWriteUser.reason}`]);
    rows.push(['ctx register writes', `${mark(c.ctxRegisterWrite.ok)} ${c.ctxRegisterWrite.reason}`]);
    rows.push(['ring buffer', `${mark(c.ringBuffer.ok)} ${c.ringBuffer.reason}`]);
  }
  rows.push([
    'Go toolchains',
    report.toolchains.length === 0 ? 'none found (sudo ./provision/go.sh)' : report.toolchains.map((t) => `${t.id}(${t.abi})`).join(' '),
  ]);
  rows.push(['can trace', report.canTrace ? 'yes' : 'NO']);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

/** Registers `golab doctor`. */
export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('report what this host allows: privileges, kernel, lockdown, headers, libbcc, probed capabilities, Go toolchains')
    .option('--json', 'print the report as JSON')
    .action(async (options: { json?: boolean }) => {
      const report = await collectDoctorReport();
      process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatDoctorReport(report)}\n`);
      if (!report.canTrace) process.exitCode = report.libbcc.ok ? ExitCode.kernelRefused : ExitCode.environment;
    });
}
