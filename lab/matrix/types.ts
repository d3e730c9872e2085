/**
 * The vocabulary of the compatibility matrix: a cell is one toolchain × build mode × kernel, and
 * in every cell each zoo function gets three checks — `args`, `results` and `rewrite` — each
 * `pass`, `fail` or `unsupported`. The report is what `golab matrix` writes as matrix.json and
 * renders as MATRIX.md and matrix.html.
 */
import type { BuildMode, GoAbi, ToolchainKind } from '../toolchain/types.ts';

/** The three checks made for every function in every cell, in report order. */
export const CHECK_NAMES = ['args', 'results', 'rewrite'] as const;

/** One of {@link CHECK_NAMES}. */
export type CheckName = (typeof CHECK_NAMES)[number];

/** The outcome classes, in report order. */
export const CHECK_STATUSES = ['pass', 'fail', 'unsupported'] as const;

/**
 * - `pass`: every value the probe could read equals the zoo's printout (parts it could not
 *   read, if any, are listed in `notes` with their reasons); for `rewrite`, the zoo printed the
 *   new value.
 * - `fail`: a value differs, is missing without a known reason, or the call was not traced;
 *   `expected` and `seen` say how.
 * - `unsupported`: nothing could be checked, for a probed reason (a capability the kernel
 *   refuses, a register the probe cannot read, DWARF that does not describe the value).
 */
export type CheckStatus = (typeof CHECK_STATUSES)[number];

/** The outcome of one check. */
export interface CheckResult {
  readonly status: CheckStatus;
  /** `unsupported`: why nothing could be checked; `fail`: what went wrong. Absent for `pass`. */
  readonly reason?: string;
  /** `fail`: what the zoo printed, e.g. `a=-100 b=200`. */
  readonly expected?: string;
  /** `fail`: what the probe saw, in the zoo's format. */
  readonly seen?: string;
  /** `pass`: the parts that could not be read and why, e.g. `x: in X0, not readable from saved registers`. */
  readonly notes?: readonly string[];
}

/** One zoo function's checks in one cell. */
export interface FunctionResult {
  /** As the zoo prints it, e.g. `Int8s`, `(*Account).Transfer`. */
  readonly func: string;
  /** The symbol traced, e.g. `main.(*Account).Transfer` (gc) or `main.Account.Transfer` (gccgo). */
  readonly symbol: string;
  readonly checks: Readonly<Record<CheckName, CheckResult>>;
}

/** A toolchain as the report names it. */
export interface ToolchainInfo {
  /** `go1.19.8`, `gccgo-12`. */
  readonly id: string;
  readonly kind: ToolchainKind;
  readonly version: string;
  readonly abi: GoAbi;
}

/** A capability as probed in a kernel (lab/bcc/capabilities.ts). */
export interface CapabilityInfo {
  readonly ok: boolean;
  readonly reason: string;
}

/** A kernel column of the matrix. */
export interface KernelInfo {
  /** `host`, or a VM kernel line: `6.1`, `7`. */
  readonly name: string;
  /** `uname -r`. */
  readonly release: string;
  /** Lockdown mode (`none`, `integrity`, …, `unknown`). */
  readonly lockdown: string;
  readonly capabilities: {
    readonly uprobeRead: CapabilityInfo;
    readonly probeWriteUser: CapabilityInfo;
    readonly ctxRegisterWrite: CapabilityInfo;
  };
  /** Wall time of this kernel's cells (for a VM: boot and everything in the guest). */
  readonly durationMs: number;
  /** Set when the kernel's cells could not run at all (a VM that did not boot). */
  readonly error?: string;
}

/** One toolchain × mode × kernel. */
export interface MatrixCell {
  readonly toolchain: ToolchainInfo;
  readonly mode: BuildMode;
  /** {@link KernelInfo.name}. */
  readonly kernel: string;
  /** Every zoo function, in the zoo's call order. */
  readonly functions: readonly FunctionResult[];
  /** Wall time of the cell (zoo runs and trace session). */
  readonly durationMs: number;
  /** Set when the cell could not run (its build failed, the session could not start). */
  readonly error?: string;
  /** Wall time of the cell's phases in ms (unprobed run, plan, start, run, stop), for speed work. */
  readonly timings?: Readonly<Record<string, number>>;
}

/** Counts of each status. */
export type StatusCounts = Record<CheckStatus, number>;

/** What `golab matrix` writes as matrix.json. */
export interface MatrixReport {
  /** Schema name and version of this file. */
  readonly schema: 'go-ebpf-lab/matrix@1';
  /** ISO 8601 time of the run's start. */
  readonly createdAt: string;
  /** The command line that made the report. */
  readonly command: string;
  /** Wall time of the whole run, builds included. */
  readonly durationMs: number;
  /** Wall time of building (or finding cached) tracees. */
  readonly buildMs: number;
  readonly toolchains: readonly ToolchainInfo[];
  readonly modes: readonly BuildMode[];
  readonly kernels: readonly KernelInfo[];
  readonly cells: readonly MatrixCell[];
  /** Totals over every check of every cell. */
  readonly totals: StatusCounts;
}
