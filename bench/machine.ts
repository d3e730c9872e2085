/** What a benchmark result was measured on: machine, kernel, tools, and how busy it was. */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { execa } from 'execa';
import { lockdownMode } from '../lab/bcc/capabilities.ts';
import { loadLibBcc } from '../lab/bcc/index.ts';

/** The machine a run was measured on. */
export interface MachineInfo {
  readonly nproc: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly lockdown: string;
  readonly libbcc: string;
  readonly node: string;
  readonly bpftrace: string | null;
  readonly pythonBcc: string | null;
  /** 1, 5 and 15 minute load averages when the run started. */
  readonly loadAtStart: readonly number[];
}

/** Describes this machine. Tools that are missing are `null`. */
export async function machineInfo(): Promise<MachineInfo> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const version = async (command: string, args: string[]): Promise<string | null> => {
    try {
      const { stdout } = await execa(command, args, { timeout: 30_000 });
      return stdout.trim();
    } catch {
      return null;
    }
  };
  return {
    nproc: os.availableParallelism(),
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    lockdown: lockdownMode(),
    libbcc: loadLibBcc().version,
    node: process.version,
    bpftrace: await version('bpftrace', ['--version']),
    pythonBcc: await version('/usr/bin/python3', ['-c', 'import bcc; print(bcc.__version__)']),
    loadAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}
