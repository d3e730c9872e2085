/**
 * Docker toolchains: building tracees inside `golang:<version>` images through dockerode, so a
 * Go release that is not installed on the host can still be in the matrix.
 *
 * The image is used as found, or pulled with a progress bar when missing. The build runs as
 * root with the tracee's sources bind-mounted read-only at /src, the cache entry at /out and a
 * per-image GOCACHE at /gocache, with no network (GOPROXY=off: the tracees have no
 * dependencies). The binary is built into a temporary name and hard-linked into place on the
 * host, exactly as host builds are (lab/toolchain/build.ts), and cached under the same keys,
 * with the image ID standing in for the toolchain binary.
 */
import { link, mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import cliProgress from 'cli-progress';
import Docker from 'dockerode';
import { GolabError, ExitCode, tailLines } from '../errors.ts';
import { buildArguments, buildSettings, defaultCacheDir, traceeDir, type BuildResult } from './build.ts';
import { buildCacheKey, hashSourceTree } from './cache-key.ts';
import type { BuildMode, Toolchain } from './types.ts';
import { abiFor, formatGoVersion, parseGoVersionOutput } from './version.ts';

/** How to reach the Docker daemon. */
export interface DockerConnectOptions {
  /** The daemon's Unix socket; defaults to DOCKER_HOST (unix://…) or /var/run/docker.sock. */
  readonly socketPath?: string;
  /** How long to wait for the daemon to answer a ping. */
  readonly timeoutMs?: number;
}

/** One tracee to build inside an image. */
export interface DockerBuildRequest {
  /** A tracee name (`seed`, `zoo`) or an absolute path to a Go main-package directory. */
  readonly tracee: string;
  /** The image, e.g. `golang:1.19` or a locally made `golang:1.19-local`. */
  readonly image: string;
  readonly mode: BuildMode;
}

/** A binary built in a container. */
export interface DockerBuildResult extends BuildResult {
  readonly image: string;
  /** The image's content ID (`sha256:…`), part of the cache key. */
  readonly imageId: string;
}

/** Options of {@link buildInDocker}. */
export interface DockerBuildOptions extends DockerConnectOptions {
  /** A connected client; one is made from the connect options otherwise. */
  readonly docker?: Docker;
  /** Build cache directory; defaults as for host builds (GOLAB_CACHE). */
  readonly cacheDir?: string;
  /** Show a progress bar on stderr while pulling a missing image (default: when stderr is a TTY). */
  readonly progress?: boolean;
  /** Kills the build container when aborted. */
  readonly signal?: AbortSignal;
}

/** The daemon socket named by DOCKER_HOST, or Docker's default. */
export function defaultDockerSocket(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.DOCKER_HOST;
  return host?.startsWith('unix://') ? host.slice('unix://'.length) : '/var/run/docker.sock';
}

/**
 * A dockerode client whose daemon has answered a ping. Throws GolabError DOCKER_UNREACHABLE
 * when nothing answers.
 */
export async function connectDocker(options: DockerConnectOptions = {}): Promise<Docker> {
  const socketPath = options.socketPath ?? defaultDockerSocket();
  const docker = new Docker({ socketPath, timeout: options.timeoutMs ?? 10_000 });
  try {
    await docker.ping();
  } catch (error) {
    throw new GolabError('DOCKER_UNREACHABLE', `the Docker daemon at ${socketPath} does not answer: ${errorText(error)}`, {
      hint: 'start it (systemctl start docker, or dockerd &), or install it first: apt-get install docker.io',
      exitCode: ExitCode.environment,
      cause: error,
    });
  }
  // Requests after the ping may legitimately take long (pulls, builds): no socket timeout.
  return new Docker({ socketPath });
}

/**
 * Makes sure `image` is present, pulling it (with a progress bar) when it is not. Returns the
 * image ID. Throws GolabError IMAGE_PULL_FAILED when the pull fails.
 */
export async function ensureImage(
  docker: Docker,
  image: string,
  options: { readonly progress?: boolean } = {},
): Promise<{ readonly imageId: string; readonly pulled: boolean }> {
  const present = await inspectImageId(docker, image);
  if (present !== undefined) return { imageId: present, pulled: false };
  await pullImage(docker, image, options.progress ?? process.stderr.isTTY === true);
  const pulled = await inspectImageId(docker, image);
  if (pulled === undefined) {
    throw new GolabError('IMAGE_PULL_FAILED', `${image} is still missing after a pull that reported success`, {
      exitCode: ExitCode.environment,
    });
  }
  return { imageId: pulled, pulled: true };
}

async function inspectImageId(docker: Docker, image: string): Promise<string | undefined> {
  try {
    return (await docker.getImage(image).inspect()).Id;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
}

/** One line of Docker's pull progress stream. */
interface PullEvent {
  readonly id?: string;
  readonly status?: string;
  readonly error?: string;
  readonly progressDetail?: { readonly current?: number; readonly total?: number };
}

async function pullImage(docker: Docker, image: string, showProgress: boolean): Promise<void> {
  const fail = (reason: string, cause?: unknown): GolabError =>
    new GolabError('IMAGE_PULL_FAILED', `cannot pull ${image}: ${reason}`, {
      hint: 'check that a registry is reachable, or make the image locally (importHostGoroot, or docker load/import) and tag it',
      exitCode: ExitCode.environment,
      cause,
    });
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.pull(image);
  } catch (error) {
    throw fail(errorText(error), error);
  }
  // Bytes per layer, summed into one bar: Docker reports each layer's download separately.
  const layers = new Map<string, { current: number; total: number }>();
  const bar = showProgress
    ? new cliProgress.SingleBar(
        { format: `pulling ${image} [{bar}] {percentage}% {value}/{total} bytes`, stream: process.stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(1, 0);
  const events = await new Promise<PullEvent[]>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null, output: PullEvent[]) => (error ? reject(fail(error.message, error)) : resolve(output)),
      (event: PullEvent) => {
        if (!bar || event.id === undefined || event.progressDetail?.total === undefined) return;
        layers.set(event.id, { current: event.progressDetail.current ?? 0, total: event.progressDetail.total });
        let current = 0;
        let total = 0;
        for (const layer of layers.values()) {
          current += layer.current;
          total += layer.total;
        }
        bar.setTotal(Math.max(total, 1));
        bar.update(current);
      },
    );
  }).finally(() => bar?.stop());
  const failed = events.find((event) => event.error !== undefined);
  if (failed) throw fail(failed.error ?? 'unknown error');
}

/** What runContainer saw. */
interface ContainerRun {
  readonly exitCode: number;
  /** stdout and stderr together (the container has a TTY). */
  readonly output: string;
}

/** Runs a command in a fresh container, waits for it, and removes it whatever happens. */
async function runContainer(
  docker: Docker,
  create: Docker.ContainerCreateOptions,
  signal?: AbortSignal,
): Promise<ContainerRun> {
  const container = await docker.createContainer({ Tty: true, User: '0:0', ...create });
  const kill = (): void => void container.kill().catch(() => undefined);
  try {
    signal?.addEventListener('abort', kill, { once: true });
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const logs = await container.logs({ stdout: true, stderr: true, follow: false });
    return { exitCode: StatusCode, output: Buffer.from(logs).toString('utf8').replace(/\r\n/g, '\n') };
  } finally {
    signal?.removeEventListener('abort', kill);
    await container.remove({ force: true }).catch(() => undefined);
  }
}

const imageToolchains = new Map<string, Promise<Toolchain>>();

/**
 * The toolchain inside an image, learnt by running `go version` in it (cached per image ID).
 * Its id is `docker-<image>` with the image name made file-name safe.
 */
export function dockerToolchain(docker: Docker, image: string, imageId: string): Promise<Toolchain> {
  const key = `${image}\0${imageId}`;
  let toolchain = imageToolchains.get(key);
  if (!toolchain) {
    toolchain = probeImage(docker, image, imageId);
    imageToolchains.set(key, toolchain);
    toolchain.catch(() => imageToolchains.delete(key));
  }
  return toolchain;
}

async function probeImage(docker: Docker, image: string, imageId: string): Promise<Toolchain> {
  const run = await runContainer(docker, { Image: image, Cmd: ['go', 'version'], HostConfig: { NetworkMode: 'none' } });
  const version = run.exitCode === 0 ? parseGoVersionOutput(run.output) : undefined;
  if (!version) {
    throw new GolabError('DOCKER_IMAGE_NOT_GO', `\`go version\` in ${image} did not name a Go release`, {
      detail: tailLines(run.output, 10),
      hint: 'use a golang:<version> image, or one whose PATH has a go command',
      exitCode: ExitCode.environment,
    });
  }
  return {
    id: `docker-${image.replace(/[^A-Za-z0-9._-]+/g, '-')}`,
    kind: 'gc',
    version: formatGoVersion(version),
    goBinary: `docker:${image}`,
    abi: abiFor('gc', version),
    fingerprint: `${run.output.trim()} ${imageId}`,
  };
}

/**
 * Builds a tracee inside `request.image` (pulled if missing), or returns the cached binary.
 * Throws GolabError DOCKER_UNREACHABLE, IMAGE_PULL_FAILED, DOCKER_IMAGE_NOT_GO or BUILD_FAILED.
 */
export async function buildInDocker(request: DockerBuildRequest, options: DockerBuildOptions = {}): Promise<DockerBuildResult> {
  const docker = options.docker ?? (await connectDocker(options));
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const { imageId: id } = await ensureImage(docker, request.image, options.progress === undefined ? {} : { progress: options.progress });
  const toolchain = await dockerToolchain(docker, request.image, id);
  const sourceDir = traceeDir(request.tracee);
  const name = path.basename(sourceDir);
  const args = buildArguments(toolchain, request.mode);
  const settings = buildSettings(toolchain);
  const key = buildCacheKey({
    sourceDigest: await hashSourceTree(sourceDir),
    toolchainId: toolchain.id,
    goBinary: `docker:${id}`,
    fingerprint: toolchain.fingerprint,
    mode: request.mode,
    args,
    env: settings,
  });
  const entryDir = path.join(cacheDir, `${name}-${toolchain.id}-${request.mode}-${key.slice(0, 16)}`);
  const binary = path.join(entryDir, name);
  const result: Omit<DockerBuildResult, 'cached'> = {
    path: binary,
    tracee: name,
    toolchain,
    mode: request.mode,
    key,
    image: request.image,
    imageId: id,
  };
  if (await exists(binary)) return { ...result, cached: true };

  const gocache = path.join(cacheDir, 'gocache', toolchain.id);
  await mkdir(entryDir, { recursive: true });
  await mkdir(gocache, { recursive: true });
  const temporary = `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const run = await runContainer(
      docker,
      {
        Image: request.image,
        Cmd: ['go', ...args, '-o', `/out/${temporary}`, '.'],
        WorkingDir: '/src',
        // The image's own PATH (and GOROOT, if it sets one) stay as they are.
        Env: Object.entries({ ...settings, GOCACHE: '/gocache', GOPATH: '/tmp/gopath', HOME: '/tmp' }).map(
          ([variable, value]) => `${variable}=${value}`,
        ),
        HostConfig: {
          Binds: [`${sourceDir}:/src:ro`, `${entryDir}:/out`, `${gocache}:/gocache`],
          Tmpfs: { '/tmp': 'rw,exec,size=2g' },
          NetworkMode: 'none',
        },
      },
      options.signal,
    );
    if (run.exitCode !== 0) {
      throw new GolabError('BUILD_FAILED', `building ${name} in ${request.image} (${request.mode}) failed with exit code ${run.exitCode}`, {
        detail: tailLines(run.output, 40),
        hint: `reproduce with: docker run --rm -v ${sourceDir}:/src -w /src ${request.image} go ${args.join(' ')} .`,
        exitCode: options.signal?.aborted ? ExitCode.interrupted : ExitCode.environment,
      });
    }
    try {
      await link(path.join(entryDir, temporary), binary);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    return { ...result, cached: false };
  } finally {
    await rm(path.join(entryDir, temporary), { force: true });
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
