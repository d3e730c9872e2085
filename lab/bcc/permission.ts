/**
 * Telling "not allowed" apart from "broken": libbcc reports a missing privilege as a failed map,
 * load or attach with EPERM/EACCES in its output, which reads like a compiler or kernel bug
 * unless the caller checks who it runs as.
 */
import { ExitCode, GolabError } from '../errors.ts';
import { privileges } from './host.ts';

/** What libbcc prints when the kernel says EPERM or EACCES. */
const DENIED = /Operation not permitted|Permission denied|\bEPERM\b|\bEACCES\b/;

/**
 * Which step was refused: `bpf` (maps, program loads: CAP_BPF, plus CAP_PERFMON for tracing
 * programs) or `uprobe` (the uprobe perf event; measured on 6.18: EACCES with CAP_BPF and
 * CAP_PERFMON, granted with CAP_SYS_ADMIN).
 */
export type PrivilegedStep = 'bpf' | 'uprobe';

/** True when this process lacks what `step` needs: CAP_SYS_ADMIN, or CAP_BPF+CAP_PERFMON for `bpf`. */
export function lacksTracingPrivileges(step: PrivilegedStep = 'bpf'): boolean {
  const { capabilities } = privileges();
  if (capabilities.CAP_SYS_ADMIN) return false;
  return step === 'uprobe' || !(capabilities.CAP_BPF && capabilities.CAP_PERFMON);
}

/**
 * A `PRIVILEGES_MISSING` error when `output` (libbcc's words) says permission was denied and
 * this process lacks the capabilities `step` needs; undefined otherwise, so the caller keeps
 * its own error.
 */
export function privilegesError(action: string, output: string, step: PrivilegedStep = 'bpf'): GolabError | undefined {
  if (!DENIED.test(output) || !lacksTracingPrivileges(step)) return undefined;
  const { uid, capabilities } = privileges();
  const held = (['CAP_BPF', 'CAP_PERFMON', 'CAP_SYS_ADMIN'] as const).map((name) => `${name}=${capabilities[name] ? 'yes' : 'no'}`);
  const hint =
    step === 'uprobe' && capabilities.CAP_BPF && capabilities.CAP_PERFMON
      ? 'run golab as root (sudo): this kernel refuses the uprobe perf event to CAP_BPF and CAP_PERFMON without CAP_SYS_ADMIN'
      : 'run golab as root (sudo), or give it CAP_BPF and CAP_PERFMON (Linux 5.8+; some kernels also want CAP_SYS_ADMIN for uprobes), e.g. sudo setpriv --inh-caps=+bpf,+perfmon --ambient-caps=+bpf,+perfmon …';
  return new GolabError('PRIVILEGES_MISSING', `${action}: permission denied (uid ${uid}; ${held.join(' ')})`, {
    detail: output.trim() || undefined,
    hint,
    exitCode: ExitCode.environment,
  });
}
