/**
 * Capability gates for integration tests: a test that needs something the kernel refuses skips
 * with the probe's own reason, e.g. "lockdown=integrity refuses bpf_probe_write_user".
 */
import type { TestContext } from 'vitest';
import { probeCapabilities, type KernelCapabilities } from '../../lab/bcc/capabilities.ts';

/** Probes once per test file (and per boot, through the probe cache). */
export async function capabilities(): Promise<KernelCapabilities> {
  return probeCapabilities();
}

/** Skips the running test unless the kernel has `name`, with the probe's reason as the note. */
export async function requireCapability(context: TestContext, name: keyof KernelCapabilities): Promise<void> {
  const result = (await capabilities())[name];
  if (!result.ok) context.skip(`${name} probe failed: ${result.reason}`);
}
