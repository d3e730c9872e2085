/**
 * Integration: builds the seed tracee inside a Docker image through dockerode, against a real
 * dockerd. There is no registry here, so the image is made from the host's Debian Go 1.19
 * (its GOROOT plus the libc its `go` command links) and imported under a private tag.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGolabError } from '../../lab/errors.ts';
import { findToolchain } from '../../lab/toolchain/discover.ts';
import { buildInDocker, connectDocker, ensureImage } from '../../lab/toolchain/docker.ts';
import { importHostGoroot } from '../../lab/toolchain/docker-image.ts';
import { BUILD_MODES, type Toolchain } from '../../lab/toolchain/types.ts';
import { obtainDockerDaemon, type DaemonOutcome } from './dockerd.ts';

const SEED_OUTPUT = 'ebpfDemo:: a1=100, a2=true a3=66.88\nmain:: r1=100, r2=200 r3=test for ebpf\n';
// Private to this run, so a shared daemon keeps no image of ours afterwards.
const IMAGE = `golang:1.19-golab-test-${process.pid}`;

describe('Docker toolchains', () => {
  let outcome: DaemonOutcome;
  let go119: Toolchain;
  let cacheDir: string;
  let imported = false;

  beforeAll(async () => {
    go119 = await findToolchain('1.19');
    cacheDir = await mkdtemp(path.join(os.tmpdir(), 'golab-docker-test-'));
    outcome = await obtainDockerDaemon();
  });

  afterAll(async () => {
    if (outcome?.ok) {
      if (imported) await outcome.daemon.docker.getImage(IMAGE).remove({ force: true }).catch(() => undefined);
      await outcome.daemon.stop();
    }
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  });

  it('says how to get a daemon when none answers', async () => {
    const error = await connectDocker({ socketPath: path.join(os.tmpdir(), `golab-no-daemon-${process.pid}.sock`) }).catch(
      (thrown: unknown) => thrown,
    );
    expect(isGolabError(error, 'DOCKER_UNREACHABLE')).toBe(true);
    expect((error as { hint: string }).hint).toContain('apt-get install docker.io');
  });

  it('makes a Go image from the host GOROOT and builds the seed in it, in every mode', async (context) => {
    if (!outcome.ok) return context.skip(outcome.reason);
    const { docker } = outcome.daemon;
    const imageId = await importHostGoroot(docker, { goroot: go119.goroot!, tag: IMAGE });
    imported = true;
    expect(imageId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await ensureImage(docker, IMAGE)).toEqual({ imageId, pulled: false });

    for (const mode of BUILD_MODES) {
      const result = await buildInDocker({ tracee: 'seed', image: IMAGE, mode }, { docker, cacheDir });
      expect(result).toMatchObject({ cached: false, mode, image: IMAGE, imageId, toolchain: { version: '1.19.8', abi: 'abiinternal' } });
      // The binary's own build information names the image's Go, as read by the host's go.
      const { stdout: buildInfo } = await execa(go119.goBinary, ['version', result.path], { env: { GOTOOLCHAIN: 'local' } });
      expect(buildInfo).toBe(`${result.path}: go1.19.8`);
      const { stdout } = await execa(result.path, [], { stripFinalNewline: false });
      expect(stdout, mode).toBe(SEED_OUTPUT);

      const again = await buildInDocker({ tracee: 'seed', image: IMAGE, mode }, { docker, cacheDir });
      expect(again).toMatchObject({ cached: true, path: result.path });
    }
    // Every build container was removed.
    const leftovers = await docker.listContainers({ all: true, filters: { ancestor: [IMAGE] } });
    expect(leftovers).toEqual([]);
  });

  it('reports a typed error when an image cannot be pulled', async (context) => {
    if (!outcome.ok) return context.skip(outcome.reason);
    const error = await ensureImage(outcome.daemon.docker, 'golang:0.0-golab-missing', { progress: false }).catch(
      (thrown: unknown) => thrown,
    );
    expect(isGolabError(error, 'IMAGE_PULL_FAILED')).toBe(true);
  });
});
