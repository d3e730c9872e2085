/**
 * Issue 3's check: every zoo function traced under gc ABI0, gc ABIInternal (several versions),
 * in default, PIE and stripped builds, with arguments and results equal to what the zoo itself
 * printed in the same run — apart from parts the probe reports as unreadable, each with a reason.
 */
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TraceSession, type TracedCall } from '../lab/probe/session.ts';
import { buildTracee } from '../lab/toolchain/build.ts';
import { discoverToolchains } from '../lab/toolchain/discover.ts';
import type { BuildMode, Toolchain } from '../lab/toolchain/types.ts';
import { parseZooOutput, type ZooCall } from '../tracee/zoo/output.ts';
import { requireCapability } from './support/capabilities.ts';
import { compareCall, zooSymbol, type ValueComparison } from './support/zoo.ts';

/** Functions the zoo calls but the compiler inlines away: not traceable by design. */
const INLINED = new Set(['InlinedAdd']);

const all = await discoverToolchains();
const gc = all.filter((t) => t.kind === 'gc');
const pick = (version: string) => gc.find((t) => t.version.startsWith(`${version}.`) || t.version === version);
const gccgo = all.find((t) => t.kind === 'gccgo');
const chosen = [pick('1.15'), pick('1.19'), pick('1.22'), gc.at(-1), gccgo].filter((t, i, list): t is Toolchain => t !== undefined && list.indexOf(t) === i);
const modes: BuildMode[] = ['default', 'pie', 'stripped'];
/**
 * Cells that cannot be traced by name, with the typed error they must give instead. gccgo's
 * `-s` removes .symtab, and gccgo binaries never have a pclntab (that is gc's runtime table), so
 * a stripped gccgo binary names no function at all: GO_STRIPPED_NO_PCLNTAB, not a trace.
 */
const untraceable = (toolchain: Toolchain, mode: BuildMode): string | undefined =>
  toolchain.kind === 'gccgo' && mode === 'stripped' ? 'GO_STRIPPED_NO_PCLNTAB' : undefined;
const allCells = chosen.flatMap((toolchain) => modes.map((mode) => ({ id: `${toolchain.id} ${mode}`, toolchain, mode, error: untraceable(toolchain, mode) })));
const cells = allCells.filter((cell) => cell.error === undefined);
const errorCells = allCells.filter((cell) => cell.error !== undefined);

const pendingDetaches: Promise<void>[] = [];
afterAll(async () => {
  await Promise.all(pendingDetaches);
});

/** Runs the zoo once with the zoo's functions traced; returns its printout and the calls seen. */
async function traceZoo(binary: string, typesFrom: string | undefined, functions: readonly string[]) {
  const zoo = execa(binary, [], { stdin: 'pipe', reject: false, timeout: 60_000 });
  const calls: TracedCall[] = [];
  const session = await TraceSession.start({
    binaryPath: binary,
    functions,
    pid: zoo.pid!,
    ...(typesFrom ? { typesFrom } : {}),
    onCall: (call) => calls.push(call),
  });
  try {
    zoo.stdin!.end('go\n');
    const result = await zoo;
    expect(result.exitCode).toBe(0);
    return { printed: parseZooOutput(result.stdout), calls };
  } finally {
    zoo.kill('SIGKILL');
    // The zoo has exited: nothing more can arrive, so the probes may go in the background.
    await session.stop({ waitForDetach: false });
    pendingDetaches.push(session.detached);
  }
}

describe.each(errorCells)('zoo $id', ({ toolchain, mode, error }) => {
  it(`refuses to trace by name with ${error}`, async () => {
    const binary = (await buildTracee({ tracee: 'zoo', toolchain, mode })).path;
    const twin = (await buildTracee({ tracee: 'zoo', toolchain, mode: 'default' })).path;
    // Planning needs no privileges: the error comes from looking the names up, before BPF.
    await expect(TraceSession.start({ binaryPath: binary, typesFrom: twin, functions: [zooSymbol('Int8s')], onCall: () => {} })).rejects.toMatchObject({ code: error });
  });
});

describe.each(cells)('zoo $id', ({ toolchain, mode }) => {
  let printed: ZooCall[] = [];
  let comparisons: ValueComparison[] = [];
  let missing: string[] = [];

  beforeAll(async () => {
    const binary = (await buildTracee({ tracee: 'zoo', toolchain, mode })).path;
    const twin = mode === 'stripped' ? (await buildTracee({ tracee: 'zoo', toolchain, mode: 'default' })).path : undefined;
    // The zoo's own unprobed run names the functions it calls.
    const unprobed = await execa(binary, [], { input: 'go\n', timeout: 60_000 });
    const functions = parseZooOutput(unprobed.stdout)
      .filter((c) => !INLINED.has(c.func))
      .map((c) => zooSymbol(c.func));
    const run = await traceZoo(binary, twin, functions);
    printed = run.printed.filter((c) => !INLINED.has(c.func));
    for (const call of printed) {
      const traced = run.calls.filter((c) => c.function === zooSymbol(call.func));
      if (traced.length !== 1) {
        missing.push(`${call.func}: ${traced.length} traced calls`);
        continue;
      }
      comparisons.push(...compareCall(call, traced[0]!));
    }
  });

  afterAll(() => {
    comparisons = [];
    missing = [];
  });

  it('traces each call once, with every argument and result equal to the printout', async (context) => {
    await requireCapability(context, 'uprobeRead');
    expect(printed.length).toBeGreaterThanOrEqual(25);
    expect(missing).toEqual([]);
    const failed = comparisons.filter((c) => !c.ok);
    expect(failed).toEqual([]);
    // Every unreadable part names its reason.
    for (const c of comparisons) for (const reason of c.unreadable) expect(reason).toMatch(/\S{3,}/);
    const unreadable = comparisons.filter((c) => c.unreadable.length > 0).length;
    await context.annotate(`${comparisons.length} values compared, ${unreadable} with unreadable parts`);
  });
});
