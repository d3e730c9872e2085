/**
 * Issue 3's rewrite check: integer, bool and same-length string arguments of the zoo rewritten
 * by the entry probe, on the stack ABI (Go 1.15), the register ABI (Go 1.19 and the newest gc)
 * and System V (gccgo), and the zoo's own printout showing the new values. A string literal's
 * bytes are in the binary's read-only segment: that rewrite must be reported as failed, and the
 * zoo must still print the original.
 *
 * New values are derived from the unprobed printout (lab/matrix/rewrite.ts), never constants.
 * One session per toolchain carries every rewrite the kernel allows (a BCC compile takes minutes
 * under TCG), and each test skips with the capability probe's reason when its mechanism is
 * refused: stack and string-data writes need bpf_probe_write_user, register writes ctx writes.
 * Every test name starts with "rewrites " (the CI VM step selects them with `-t rewrites`).
 */
import { copyFileSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelCapabilities } from '../lab/bcc/capabilities.ts';
import { ElfFile } from '../lab/elf/index.ts';
import { deriveRewriteValue } from '../lab/matrix/rewrite.ts';
import type { RewriteOutcome } from '../lab/probe/decode.ts';
import type { RewriteStep, RewriteValue } from '../lab/probe/plan.ts';
import { planSession, TraceSession, type TracedCall } from '../lab/probe/session.ts';
import { buildTracee } from '../lab/toolchain/build.ts';
import { clearToolchainCache, discoverToolchains, discoverToolchainsDetailed } from '../lab/toolchain/discover.ts';
import type { Toolchain } from '../lab/toolchain/types.ts';
import { parseZooOutput, type ZooCall } from '../tracee/zoo/output.ts';
import { capabilities, requireCapability } from './support/capabilities.ts';
import { goQuote, goUnquote, zooSymbol } from './support/zoo.ts';

/**
 * Every toolchain here. Under TCG (the VM kernels) discovery runs a dozen go commands at once,
 * and the slowest — gccgo's go tool — outlasts the probe timeout; looked for again alone, the
 * timed-out candidates answer in time. The records equal the host's, so the guest finds the
 * host's cached builds.
 */
async function allToolchains(): Promise<readonly Toolchain[]> {
  const { toolchains, skipped } = await discoverToolchainsDetailed();
  // By real directory: /bin and /usr/bin are one with a merged /usr.
  const dirs = [...new Set(skipped.filter((s) => /timed out/.test(s.reason)).map((s) => realpathSync(dirname(s.path))))];
  if (dirs.length === 0) return toolchains;
  clearToolchainCache();
  const again = await discoverToolchains({ env: { ...process.env, PATH: dirs.join(':'), GOLAB_GOROOTS: '' }, searchRoots: [] });
  return [...toolchains, ...again.filter((t) => !toolchains.some((known) => known.id === t.id))];
}

const all = await allToolchains();
const gc = all.filter((t) => t.kind === 'gc');
const pick = (version: string) => gc.find((t) => t.version.startsWith(`${version}.`) || t.version === version);
const chosen = [pick('1.15'), pick('1.19'), gc.at(-1), all.find((t) => t.kind === 'gccgo')].filter(
  (t, i, list): t is Toolchain => t !== undefined && list.indexOf(t) === i,
);

/** The rewrites made, by zoo function and parameter. */
const WANTED = [
  { func: 'Int64s', param: 'a' },
  { func: 'Bools', param: 'a' },
  { func: 'Strings', param: 's' },
  { func: 'Strings', param: 't' },
] as const;
type Wanted = (typeof WANTED)[number];
const key = (w: Pick<Wanted, 'func' | 'param'>) => `${w.func}.${w.param}`;

/** The capability a planned rewrite step needs. */
function capabilityFor(step: RewriteStep): keyof KernelCapabilities {
  return step.via === 'reg' ? 'ctxRegisterWrite' : 'probeWriteUser';
}

/** The zoo's line for a call, as tracee/zoo/main.go prints it. */
function zooLine(func: string, args: Record<string, string>, results: Record<string, string>): string {
  const pairs = (record: Record<string, string>) => Object.entries(record).map(([k, v]) => ` ${k}=${v}`).join('');
  return `zoo ${func} args${pairs(args)} results${pairs(results)}`;
}

/** The zoo's printed line of `func` in `stdout`. */
function printedLine(stdout: string, func: string): string | undefined {
  return stdout.split('\n').find((line) => line.startsWith(`zoo ${func} args `));
}

const pendingDetaches: Promise<void>[] = [];
afterAll(async () => {
  await Promise.all(pendingDetaches);
});

it('rewrites are checked with Go 1.15 (stack), Go 1.19 and the newest gc (registers) and gccgo (System V)', () => {
  expect(chosen.map((t) => t.abi), `toolchains found: ${all.map((t) => t.id).join(' ')}`).toEqual(['abi0', 'abiinternal', 'abiinternal', 'sysv']);
});

describe.each(chosen)('rewrites in the zoo built by $id', (toolchain) => {
  let scratch: string | undefined;
  let unprobed = new Map<string, ZooCall>();
  /** Each wanted rewrite: its new value (how the zoo prints it) and the capability its step needs. */
  const planned = new Map<string, { value: RewriteValue; printed: string; needs: keyof KernelCapabilities; via: RewriteStep['via'] }>();
  /** The traced run, when any rewrite could be made. */
  let traced: { stdout: string; printed: Map<string, ZooCall>; calls: TracedCall[] } | undefined;

  beforeAll(async () => {
    const built = (await buildTracee({ tracee: 'zoo', toolchain, mode: 'default' })).path;
    // A private copy: other test files (and the matrix) run the shared cached binary.
    scratch = mkdtempSync(join(tmpdir(), 'golab-rewrite-'));
    const binary = join(scratch, 'zoo');
    copyFileSync(built, binary);
    const run = await execa(binary, [], { input: 'go\n', timeout: 120_000 });
    unprobed = new Map(parseZooOutput(run.stdout).map((c) => [c.func, c]));

    // Plan every rewrite (no privileges needed) to learn its mechanism.
    const elf = ElfFile.open(binary);
    for (const w of WANTED) {
      const fn = planSession(elf, elf, { functions: [zooSymbol(w.func)] })[0]!;
      const param = fn.signature.signature.params.find((p) => p.name === w.param)!;
      const derived = deriveRewriteValue(param.type, unprobed.get(w.func)!.args[w.param]!);
      if ('reason' in derived) throw new Error(`${key(w)}: ${derived.reason}`);
      const step = planSession(elf, elf, {
        functions: [zooSymbol(w.func)],
        rewrites: new Map([[zooSymbol(w.func), new Map([[w.param, derived.value]])]]),
        allowWrite: true,
      })[0]!.plan.probes[0]!.rewrites[0]!;
      planned.set(key(w), { ...derived, needs: capabilityFor(step), via: step.via });
    }

    // One session for every rewrite the kernel allows: a refused mechanism fails the load.
    const caps = await capabilities();
    if (!caps.uprobeRead.ok) return;
    const rewrites = new Map<string, Map<string, RewriteValue>>();
    for (const w of WANTED) {
      const p = planned.get(key(w))!;
      if (!caps[p.needs].ok) continue;
      const symbol = zooSymbol(w.func);
      rewrites.set(symbol, (rewrites.get(symbol) ?? new Map<string, RewriteValue>()).set(w.param, p.value));
    }
    if (rewrites.size === 0) return;
    const zoo = execa(binary, [], { stdin: 'pipe', reject: false });
    const calls: TracedCall[] = [];
    let session: TraceSession | undefined;
    try {
      session = await TraceSession.start({
        binaryPath: binary,
        functions: [...rewrites.keys()],
        pid: zoo.pid!,
        rewrites,
        allowWrite: true,
        onCall: (call) => calls.push(call),
      });
      zoo.stdin!.end('go\n');
      const timer = setTimeout(() => zoo.kill('SIGKILL'), 120_000);
      const result = await zoo;
      clearTimeout(timer);
      expect(result.exitCode, result.stderr).toBe(0);
      traced = { stdout: result.stdout, printed: new Map(parseZooOutput(result.stdout).map((c) => [c.func, c])), calls };
    } finally {
      zoo.kill('SIGKILL');
      await zoo.catch(() => undefined);
      // The zoo has exited: nothing more can arrive, so the probes may go in the background.
      await session?.stop({ waitForDetach: false });
      if (session) pendingDetaches.push(session.detached);
    }
  }, 900_000);

  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  /** The one traced call of `func`: its first entry (a restart after the rewrite may add a second). */
  function tracedCall(func: string): TracedCall {
    const calls = traced!.calls.filter((c) => c.function === zooSymbol(func)).sort((a, b) => (a.entryKtimeNs < b.entryKtimeNs ? -1 : 1));
    expect(calls.length, `${func}: traced calls`).toBeGreaterThanOrEqual(1);
    expect(calls.length, `${func}: traced calls`).toBeLessThanOrEqual(2);
    return calls[0]!;
  }

  /** The outcome the session reported for `w`. */
  function outcome(w: Pick<Wanted, 'func' | 'param'>): RewriteOutcome | undefined {
    return tracedCall(w.func).rewrites.find((r) => r.param === w.param);
  }

  /** Skips unless the kernel allows the mechanism of `w`'s rewrite. */
  async function gate(context: Parameters<typeof requireCapability>[0], w: Pick<Wanted, 'func' | 'param'>) {
    await requireCapability(context, 'uprobeRead');
    await requireCapability(context, planned.get(key(w))!.needs);
    expect(traced, 'the traced run').toBeDefined();
  }

  it('rewrites Int64s a to the printed value + 1, and the zoo prints the new a and its result', async (context) => {
    const w = { func: 'Int64s', param: 'a' } as const;
    await gate(context, w);
    const before = unprobed.get('Int64s')!;
    const { printed, value } = planned.get(key(w))!;
    expect(printed).toBe((BigInt(before.args.a!) + 1n).toString());
    // r0 = b ^ uint64(a), computed from the new a.
    const r0 = BigInt.asUintN(64, BigInt(before.args.b!) ^ BigInt.asUintN(64, value as bigint)).toString();
    expect(printedLine(traced!.stdout, 'Int64s')).toBe(zooLine('Int64s', { a: printed, b: before.args.b! }, { r0 }));
    expect(r0).not.toBe(before.results.r0);
    // The probe read the argument before writing it, and saw the result of the rewrite at the RET.
    const call = tracedCall('Int64s');
    expect(call.args.map((v) => v.value)).toEqual([
      { kind: 'int', value: BigInt(before.args.a!) },
      { kind: 'int', value: BigInt(before.args.b!) },
    ]);
    expect(call.results?.map((v) => v.value)).toEqual([{ kind: 'int', value: BigInt(r0) }]);
    expect(outcome(w)).toEqual({ param: 'a', value, via: planned.get(key(w))!.via, ok: true });
    await context.annotate(`${toolchain.id}: Int64s a ${before.args.a} → ${printed} (${planned.get(key(w))!.via})`);
  });

  it('rewrites Bools a by flipping it, and the zoo prints the flipped a and its results', async (context) => {
    const w = { func: 'Bools', param: 'a' } as const;
    await gate(context, w);
    const before = unprobed.get('Bools')!;
    const { printed, value } = planned.get(key(w))!;
    expect(printed).toBe(String(before.args.a !== 'true'));
    // r0 = a && c, r1 = !b.
    const r0 = String(printed === 'true' && before.args.c === 'true');
    const expected = zooLine('Bools', { ...before.args, a: printed }, { r0, r1: before.results.r1! });
    expect(printedLine(traced!.stdout, 'Bools')).toBe(expected);
    expect(tracedCall('Bools').args[0]!.value).toEqual({ kind: 'bool', value: before.args.a === 'true' });
    expect(outcome(w)).toEqual({ param: 'a', value, via: planned.get(key(w))!.via, ok: true });
    await context.annotate(`${toolchain.id}: Bools a ${before.args.a} → ${printed} (${planned.get(key(w))!.via})`);
  });

  it('rewrites Strings s (built at run time) to a same-length variant, and the zoo prints it', async (context) => {
    const w = { func: 'Strings', param: 's' } as const;
    await gate(context, w);
    const before = unprobed.get('Strings')!;
    const { printed, value } = planned.get(key(w))!;
    expect(before.args.s).toBe('"hello, zoo"');
    expect(printed).toBe('"HELLO, ZOO"');
    expect(outcome(w)).toEqual({ param: 's', value, via: 'string-data', ok: true });
    // t is rewritten in the same call when the kernel allows string writes: its write fails
    // (the next test), so the zoo prints t as it was.
    const joined = goQuote(`${value as string}|${goUnquote(before.args.t!)!}`);
    expect(printedLine(traced!.stdout, 'Strings')).toBe(zooLine('Strings', { s: printed, t: before.args.t! }, { joined, n: before.results.n! }));
    expect(tracedCall('Strings').args[0]!.value).toEqual({ kind: 'string', value: 'hello, zoo', length: 10, truncated: false });
  });

  it("rewrites Strings t (a literal): the write is reported as failed, with the read-only segment as the reason, and the zoo prints t unchanged", async (context) => {
    const w = { func: 'Strings', param: 't' } as const;
    await gate(context, w);
    const before = unprobed.get('Strings')!;
    const { value } = planned.get(key(w))!;
    expect(before.args.t).toBe(goQuote('tab\there "quoted" é'));
    expect(traced!.printed.get('Strings')!.args.t).toBe(before.args.t);
    const reported = outcome(w)!;
    expect(reported).toMatchObject({ param: 't', value, via: 'string-data', ok: false, errno: 14, readOnly: true });
    expect(reported.reason).toMatch(/^its data \(0x[0-9a-f]+\) is in the binary's read-only segment, which bpf_probe_write_user cannot write$/);
    // The probe read t before the failed write: the literal, whole.
    const t = tracedCall('Strings').args[1]!.value;
    expect(t).toEqual({ kind: 'string', value: 'tab\there "quoted" é', length: 20, truncated: false });
    await context.annotate(`${toolchain.id}: ${reported.reason}`);
  });
});
