/** Building the repository's tracees for tests, through lab/toolchain and its cache. */
import { buildTracee, type BuildResult, type TraceeName } from '../../lab/toolchain/build.ts';
import { discoverToolchains, findToolchain } from '../../lab/toolchain/discover.ts';
import type { BuildMode, Toolchain } from '../../lab/toolchain/types.ts';

/** Builds `tracee` with the toolchain matching `spec` ('1.15', '1.19', 'gccgo', …). */
export async function build(tracee: TraceeName, spec: string, mode: BuildMode = 'default'): Promise<BuildResult> {
  const toolchain = await findToolchain(spec);
  return buildTracee({ tracee, toolchain, mode });
}

/** The newest gc toolchain found (a register-ABI Go on any supported host). */
export async function newestGc(): Promise<Toolchain> {
  const gc = (await discoverToolchains()).filter((t) => t.kind === 'gc');
  const newest = gc.at(-1);
  if (!newest) throw new Error('no gc Go toolchain found: run sudo ./provision/host.sh');
  return newest;
}
