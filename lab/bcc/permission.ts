/**
 * Telling "not allowed" apart from "broken": libbcc reports a missing privilege as a failed map,
 * load or attach with EPERM/EACCES in its output, which reads like a compiler or kernel bug
 * unless the caller checks who it runs as.
 */
import { ExitCode, GolabError } from '../errors.ts';
import { privileges } from './host.ts';

/** What libbcc prints when the kernel says EPERM or EACCES. */
const DENIED = /Operation not permitted|Permission denied|\bEPERM\b|\bEACCES\b/;

/** True when this process may not load BPF programs and open perf events: neither root-equivalent nor CAP_BPF+CAP_PERFMON. */
export function lacksTracingPrivileges(): boolean {
  const { capabilities } = privileges();
  return !(capabilities.CAP_SYS_ADMIN || (capabilities.CAP_BPF && capabilities.CAP_PERFMON));
}

/**
 * A `PRIVILEGES_MISSING` error when `output` (libbcc's words) says permission was denied and
 * this process lacks the capabilities; undefined otherwise, so the caller keeps its own error.
 */
export function privilegesError(action: string, output: string): GolabError | undefined {
  if (!DENIED.test(output) || !lacksTracingPrivileges()) return undefined;
  const { uid, capabilities } = privileges();
  const missing = (['CAP_BPF', 'CAP_PERFMON'] as const).filter((name) => !capabilities[name]);
  return new GolabError('PRIVILEGES_MISSING', `${action}: permission denied (uid ${uid}, without ${missing.join(' and ')})`, {
    detail: output.trim() || undefined,
    hint: 'run golab as root (sudo), or give it CAP_BPF and CAP_PERFMON (Linux 5.8+), e.g. sudo setcap cap_bpf,cap_perfmon+ep "$(readlink -f "$(command -v node)")"',
    exitCode: ExitCode.environment,
  });
}
