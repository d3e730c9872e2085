/**
 * Chooses between KVM and qemu's TCG. `/dev/kvm` existing is not enough: on the Firecracker
 * hosts this project is built on it exists, but the CPU has no VMX/SVM (only PVM), and qemu's
 * KVM accelerator then fails or misbehaves. So KVM is used only when the CPU advertises
 * hardware virtualisation *and* the device opens read-write.
 */
import { accessSync, constants, readFileSync } from 'node:fs';

/** A qemu accelerator. */
export type Accel = 'kvm' | 'tcg';

/** The decision and why, for `golab vm list` and error messages. */
export interface AccelChoice {
  /** The accelerator to use. */
  readonly accel: Accel;
  /** One sentence: what was found. */
  readonly reason: string;
}

/** What {@link chooseAccel} looks at. */
export interface AccelFacts {
  /** `/proc/cpuinfo` has `vmx` or `svm` among its flags. */
  readonly cpuHasVirtualization: boolean;
  /** `/dev/kvm` can be opened read-write by this process. */
  readonly kvmAccessible: boolean;
  /** `GOLAB_VM_ACCEL` (`kvm` or `tcg`), to force a choice. */
  readonly override?: string | undefined;
}

/** Pure decision from the facts. */
export function chooseAccel(facts: AccelFacts): AccelChoice {
  if (facts.override === 'kvm' || facts.override === 'tcg') {
    return { accel: facts.override, reason: `forced by GOLAB_VM_ACCEL=${facts.override}` };
  }
  if (!facts.kvmAccessible) return { accel: 'tcg', reason: '/dev/kvm is absent or not read-write for this user' };
  if (!facts.cpuHasVirtualization) {
    return { accel: 'tcg', reason: '/dev/kvm exists but the CPU has no vmx/svm flag (nested or PVM host)' };
  }
  return { accel: 'kvm', reason: 'the CPU has vmx/svm and /dev/kvm is read-write' };
}

/** True when a `/proc/cpuinfo` text lists the vmx (Intel) or svm (AMD) flag. */
export function cpuinfoHasVirtualization(cpuinfo: string): boolean {
  return /^flags\s*:.*\b(vmx|svm)\b/m.test(cpuinfo);
}

/** Looks at this machine and decides. */
export function detectAccel(env: NodeJS.ProcessEnv = process.env): AccelChoice {
  let cpuinfo = '';
  try {
    cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // not Linux: TCG below
  }
  let kvmAccessible = true;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    kvmAccessible = false;
  }
  return chooseAccel({
    cpuHasVirtualization: cpuinfoHasVirtualization(cpuinfo),
    kvmAccessible,
    override: env['GOLAB_VM_ACCEL'],
  });
}
