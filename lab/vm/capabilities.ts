/**
 * What each cached kernel lets the lab do, measured by `golab doctor --json` inside it (doctor
 * probes by loading real programs; nothing is inferred from version numbers). The result is kept
 * beside the kernel as `capabilities.json`, because a probe costs a boot.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CachedKernel } from './kernels.ts';
import { runInVm, PROJECT_ROOT } from './runner.ts';

/** One capability as shown by `golab vm list`. */
export interface CapabilityView {
  /** true / false, or undefined when doctor did not say. */
  readonly ok: boolean | undefined;
  /** Doctor's reason (a verifier message, "lockdown"), or why it is unknown. */
  readonly reason: string;
}

/** The capabilities `golab vm list` shows for a kernel. */
export interface KernelCapabilityView {
  /** `uname -r` in the guest. */
  readonly kernel: string | undefined;
  /** Lockdown mode in the guest (with no extra kernel arguments). */
  readonly lockdown: string | undefined;
  readonly uprobeRead: CapabilityView;
  readonly probeWriteUser: CapabilityView;
  readonly ctxRegisterWrite: CapabilityView;
  /** When it was probed. */
  readonly probedAt: string | undefined;
}

const NAMES = ['uprobeRead', 'probeWriteUser', 'ctxRegisterWrite'] as const;

/** A view where nothing is known, with the reason. */
export function unknownCapabilities(reason: string): KernelCapabilityView {
  const unknown: CapabilityView = { ok: undefined, reason };
  return {
    kernel: undefined,
    lockdown: undefined,
    uprobeRead: unknown,
    probeWriteUser: unknown,
    ctxRegisterWrite: unknown,
    probedAt: undefined,
  };
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}

/**
 * Reads doctor's JSON (`{kernel, lockdown, capabilities: {uprobeRead: {ok, reason}, ...}}`).
 * Tolerant on purpose: the doctor report grows, and a field it lacks shows as unknown.
 */
export function parseDoctorJson(text: string, probedAt: string): KernelCapabilityView {
  let report: Record<string, unknown> | undefined;
  try {
    report = asRecord(JSON.parse(text));
  } catch {
    report = undefined;
  }
  if (!report) return unknownCapabilities('doctor printed no JSON');
  const capabilities = asRecord(report['capabilities']);
  const view = (name: (typeof NAMES)[number]): CapabilityView => {
    const entry = asRecord(capabilities?.[name]);
    if (!entry || typeof entry['ok'] !== 'boolean') {
      const libbcc = asRecord(report['libbcc']);
      const why = typeof libbcc?.['error'] === 'string' ? `libbcc: ${libbcc['error']}` : 'not in the doctor report';
      return { ok: undefined, reason: why };
    }
    return { ok: entry['ok'], reason: typeof entry['reason'] === 'string' ? entry['reason'] : '' };
  };
  return {
    kernel: typeof report['kernel'] === 'string' ? report['kernel'] : undefined,
    lockdown: typeof report['lockdown'] === 'string' ? report['lockdown'] : undefined,
    uprobeRead: view('uprobeRead'),
    probeWriteUser: view('probeWriteUser'),
    ctxRegisterWrite: view('ctxRegisterWrite'),
    probedAt,
  };
}

function storeFile(kernel: CachedKernel): string {
  return join(kernel.dir, 'capabilities.json');
}

/** The stored view of a kernel, if it was probed before. */
export function storedCapabilities(kernel: CachedKernel): KernelCapabilityView | undefined {
  const file = storeFile(kernel);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as KernelCapabilityView;
  } catch {
    return undefined;
  }
}

/** Boots the kernel, runs `golab doctor --json` in it, stores and returns the view. */
export async function probeCapabilities(
  kernel: CachedKernel,
  onProgress?: (message: string) => void,
): Promise<KernelCapabilityView> {
  const run = await runInVm({
    kernel,
    command: ['node', 'bin/golab.mjs', 'doctor', '--json'],
    cwd: PROJECT_ROOT,
    timeoutMs: 10 * 60_000,
    ...(onProgress === undefined ? {} : { onProgress }),
  });
  const view =
    run.exitCode === 0 || run.stdout.trim().startsWith('{')
      ? parseDoctorJson(run.stdout, new Date().toISOString())
      : unknownCapabilities(`doctor exited ${run.exitCode}: ${run.stderr.trim().split('\n').at(-1) ?? ''}`);
  if (view.probedAt !== undefined) writeFileSync(storeFile(kernel), `${JSON.stringify(view, null, 2)}\n`);
  return view;
}
