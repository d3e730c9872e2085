/**
 * Making a Go image without a registry: a host GOROOT, plus the C library and dynamic loader
 * its `go` command links against (Debian's are dynamically linked; the compiler and linker
 * under pkg/tool are static), imported into Docker as a one-layer image. This is how the lab
 * gets a `golang:<version>`-like image on a machine that cannot pull one.
 */
import path from 'node:path';
import type Docker from 'dockerode';
import { execa } from 'execa';
import { GolabError, ExitCode, tailLines } from '../errors.ts';

/** Options of {@link importHostGoroot}. */
export interface ImportGorootOptions {
  /** The GOROOT to copy, e.g. /usr/lib/go-1.19. Symbolic links in it are followed. */
  readonly goroot: string;
  /** The image reference to create, e.g. `golang:1.19-local`. */
  readonly tag: string;
}

/** Parts of a GOROOT a build does not need: tests, docs, the race runtime, test data. */
const GOROOT_EXCLUDES = ['test', 'misc', 'api', 'doc', 'pkg/linux_amd64_race', 'pkg/obj'];

/** The shared objects `ldd` lists for an executable, as absolute paths (loader included). */
export function parseLdd(output: string): string[] {
  const libraries = new Set<string>();
  for (const line of output.split('\n')) {
    // `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)` or `/lib64/ld-linux-x86-64.so.2 (0x…)`
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (match?.[1] !== undefined) libraries.add(match[1]);
  }
  return [...libraries];
}

/**
 * Creates the image `tag` from a host GOROOT and returns its ID. Its PATH starts with the
 * GOROOT's bin directory, so `go` resolves as in the official golang images.
 */
export async function importHostGoroot(docker: Docker, options: ImportGorootOptions): Promise<string> {
  const goroot = path.resolve(options.goroot);
  const goCommand = path.join(goroot, 'bin', 'go');
  const ldd = await execa('ldd', [goCommand], { reject: false });
  // A static go command makes ldd say "not a dynamic executable" and exit 1: nothing to add.
  const libraries = ldd.exitCode === 0 ? parseLdd(ldd.stdout) : [];
  const relative = (file: string): string => path.relative('/', file);
  const tarArgs = [
    '--create',
    '--dereference',
    '--file=-',
    '--directory=/',
    '--exclude=testdata',
    ...GOROOT_EXCLUDES.map((part) => `--exclude=${relative(path.join(goroot, part))}`),
    relative(goroot),
    ...libraries.map(relative),
  ];
  const [repo, tag = 'latest'] = splitReference(options.tag);
  const tar = execa('tar', tarArgs, { buffer: { stdout: false, stderr: true }, reject: false });
  let events: { error?: string; status?: string }[];
  try {
    const response = await docker.importImage(tar.stdout, {
      repo,
      tag,
      changes: [`ENV PATH=${goroot}/bin:/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin`, 'WORKDIR /'],
    });
    events = await new Promise((resolve, reject) =>
      docker.modem.followProgress(response, (error: Error | null, output: { error?: string }[]) => (error ? reject(error) : resolve(output))),
    );
  } catch (error) {
    tar.kill();
    await tar;
    throw importFailed(options.tag, error instanceof Error ? error.message : String(error), error);
  }
  const tarRun = await tar;
  if (tarRun.exitCode !== 0) throw importFailed(options.tag, `tar exited with ${tarRun.exitCode}`, undefined, String(tarRun.stderr));
  const failed = events.find((event) => event.error !== undefined);
  if (failed) throw importFailed(options.tag, failed.error ?? 'unknown error');
  return (await docker.getImage(options.tag).inspect()).Id;
}

function splitReference(reference: string): [string, string | undefined] {
  const colon = reference.lastIndexOf(':');
  // A colon before the last slash belongs to a registry host:port, not a tag.
  if (colon === -1 || colon < reference.lastIndexOf('/')) return [reference, undefined];
  return [reference.slice(0, colon), reference.slice(colon + 1)];
}

function importFailed(tag: string, reason: string, cause?: unknown, detail?: string): GolabError {
  return new GolabError('IMAGE_IMPORT_FAILED', `cannot import ${tag}: ${reason}`, {
    hint: 'check that the GOROOT exists and the Docker daemon has space for the image',
    exitCode: ExitCode.environment,
    cause,
    ...(detail === undefined ? {} : { detail: tailLines(detail, 20) }),
  });
}
