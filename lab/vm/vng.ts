/**
 * The `vng` (virtme-ng) command line for one boot. vng shares the host's root read-only (with
 * tmpfs-backed overlays on /etc, /usr, /var, /tmp, ...), builds a busybox initramfs that loads the
 * kernel's 9p and virtio modules from the unpacked module tree, and returns the guest's status.
 */
import type { Accel } from './accel.ts';

/** Everything that varies between boots. */
export interface VngOptions {
  /** The kernel image; vng finds its modules at `<root>/lib/modules/<release>` beside it. */
  readonly vmlinuz: string;
  /** Accelerator; TCG adds `--disable-kvm`. */
  readonly accel: Accel;
  /** Guest memory, qemu syntax (`2G`). */
  readonly memory: string;
  /** Guest CPUs. */
  readonly cpus: number;
  /** Host directories the guest sees read-only at the same path, over the tmpfs that covers /var/cache. */
  readonly rodirs: readonly string[];
  /** Host directories the guest may write, at the same path. */
  readonly rwdirs: readonly string[];
  /** Working directory in the guest. */
  readonly cwd: string;
  /** Extra kernel arguments, e.g. `lockdown=integrity`. */
  readonly append: readonly string[];
  /** The shell command the guest runs (kept short: it travels on the kernel command line). */
  readonly exec: string;
  /** Guest hostname and qemu `-name`, so a run's qemu can be found with `pgrep -f`. */
  readonly name: string;
  /** Show the kernel console (vng `--verbose`); it goes to stdout, mixed with the command's. */
  readonly verbose?: boolean;
}

/**
 * Builds the arguments after `vng`. Shared directories are given as `guest=host` with equal paths:
 * vng 1.35 checks a bare path relative to its own working directory and refuses absolute paths
 * under /var ("path must be defined inside a valid overlay").
 */
export function vngArgs(options: VngOptions): string[] {
  // --force-9p: vng otherwise first tries virtiofsd, and the one in Debian 12's qemu package
  // rejects vng's arguments: 3 s of retries per boot before vng falls back to 9p anyway.
  const args = ['--run', options.vmlinuz, '--name', options.name, '--memory', options.memory, '--cpus', String(options.cpus), '--force-9p'];
  if (options.accel === 'tcg') args.push('--disable-kvm');
  for (const dir of options.rwdirs) args.push('--rwdir', `${dir}=${dir}`);
  for (const dir of options.rodirs) args.push('--rodir', `${dir}=${dir}`);
  args.push('--cwd', options.cwd);
  for (const item of options.append) args.push('--append', item);
  if (options.verbose) args.push('--verbose');
  args.push('--exec', options.exec);
  return args;
}

/** Splits `--append` values: repeated flags and space-separated lists both work. */
export function splitAppend(values: readonly string[] | string | undefined): string[] {
  const list = typeof values === 'string' ? [values] : (values ?? []);
  return list.flatMap((value) => value.split(/\s+/)).filter((item) => item.length > 0);
}
