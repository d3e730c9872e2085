/**
 * Facts about the host that decide whether BCC can trace: privileges, kernel, lockdown, BTF,
 * tracefs, and where BCC will find kernel headers. Read from /proc and /sys, never guessed.
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { release } from 'node:os';
import { lockdownMode } from './capabilities.ts';

/** Linux capability bit numbers the tracer cares about. */
const CAPABILITY_BITS = { CAP_SYS_ADMIN: 21, CAP_PERFMON: 38, CAP_BPF: 39 } as const;

/** Who the process runs as and which relevant capabilities it holds. */
export interface PrivilegeReport {
  readonly uid: number;
  readonly root: boolean;
  readonly capabilities: Readonly<Record<keyof typeof CAPABILITY_BITS, boolean>>;
}

/** Where BCC will look for kernel headers, following its loader's own order. */
export interface HeadersReport {
  /** True when `<path>/include/linux/kconfig.h` exists, or /sys/kernel/kheaders.tar.xz can be used. */
  readonly ok: boolean;
  /** The directory BCC will use. */
  readonly path: string | undefined;
  /** How it was chosen: `BCC_KERNEL_SOURCE`, `/lib/modules build+source`, `/lib/modules build`, `kheaders`, or `none`. */
  readonly via: string;
  /** Where the `build` link points, when it is a link to another kernel's headers. */
  readonly linkedTo: string | undefined;
}

/** Everything `golab doctor` reports about the host apart from probed capabilities. */
export interface HostReport {
  readonly privileges: PrivilegeReport;
  readonly kernel: string;
  readonly lockdown: string;
  readonly btf: boolean;
  /** The mounted tracefs directory, if any. */
  readonly tracefs: string | undefined;
  readonly headers: HeadersReport;
}

/** Parses `CapEff:` of /proc/self/status. */
export function privileges(status = readFileSync('/proc/self/status', 'utf8')): PrivilegeReport {
  const effective = BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(status)?.[1] ?? '0'}`);
  const uid = Number(/Uid:\s*(\d+)/.exec(status)?.[1] ?? '-1');
  const has = (bit: number) => (effective & (1n << BigInt(bit))) !== 0n;
  return {
    uid,
    root: uid === 0,
    capabilities: {
      CAP_SYS_ADMIN: has(CAPABILITY_BITS.CAP_SYS_ADMIN),
      CAP_PERFMON: has(CAPABILITY_BITS.CAP_PERFMON),
      CAP_BPF: has(CAPABILITY_BITS.CAP_BPF),
    },
  };
}

/** The mounted tracefs, preferring /sys/kernel/tracing (bcc ≥ 0.26 falls back to it; 0.23 needs debugfs). */
export function tracefsPath(mounts = readFileSync('/proc/mounts', 'utf8')): string | undefined {
  const points = mounts.split('\n').map((l) => l.split(' '));
  const tracefs = points.find((p) => p[2] === 'tracefs' && p[1] === '/sys/kernel/tracing');
  if (tracefs) return '/sys/kernel/tracing';
  const viaDebugfs = points.find((p) => p[2] === 'tracefs' && p[1] === '/sys/kernel/debug/tracing');
  return viaDebugfs ? '/sys/kernel/debug/tracing' : undefined;
}

/** Reproduces BCC's header search (loader.cc / kbuild_helper.cc), for the running kernel. */
export function headersReport(kernel = release(), env = process.env): HeadersReport {
  const isDir = (p: string) => {
    try {
      return statSync(p).isDirectory();
    } catch {
      return false;
    }
  };
  const hasKconfig = (p: string) => existsSync(`${p}/include/linux/kconfig.h`);
  const linkTarget = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return undefined;
    }
  };
  const source = env.BCC_KERNEL_SOURCE;
  if (source) return { ok: hasKconfig(source), path: source, via: 'BCC_KERNEL_SOURCE', linkedTo: undefined };
  const dir = `/lib/modules/${kernel}`;
  if (isDir(`${dir}/build`) && isDir(`${dir}/source`)) {
    const path = `${dir}/source`;
    return { ok: hasKconfig(path), path, via: '/lib/modules build+source', linkedTo: linkTarget(`${dir}/build`) };
  }
  if (isDir(`${dir}/build`)) {
    const path = `${dir}/build`;
    if (hasKconfig(path)) return { ok: true, path, via: '/lib/modules build', linkedTo: linkTarget(path) };
  }
  if (existsSync('/sys/kernel/kheaders.tar.xz')) {
    return { ok: true, path: '/sys/kernel/kheaders.tar.xz', via: 'kheaders', linkedTo: undefined };
  }
  return { ok: false, path: undefined, via: 'none', linkedTo: undefined };
}

/** Collects the host facts. */
export function hostReport(): HostReport {
  return {
    privileges: privileges(),
    kernel: release(),
    lockdown: lockdownMode(),
    btf: existsSync('/sys/kernel/btf/vmlinux'),
    tracefs: tracefsPath(),
    headers: headersReport(),
  };
}
