/**
 * Debian kernels for the lab, fetched with `apt-get download`, unpacked with `dpkg-deb -x` and
 * cached per line. Nothing is installed: the host's own kernel and /lib/modules stay untouched.
 *
 * Layout of one cached line (`<cache>/kernels/<line>/`):
 *
 *     debs/                     the downloaded .deb files
 *     root/boot/vmlinuz-<rel>   the kernel (7.x: root/lib/modules/<rel>/vmlinuz)
 *     root/lib/modules/<rel>/   its modules, depmod'ed; build and source link to the headers below
 *     root/usr/src/linux-headers-<rel>, -common, root/usr/lib/linux-kbuild-*
 *     kernel.json               written last: its presence means the line is complete
 *
 * virtme-ng finds the modules because they sit at `<root>/lib/modules/<rel>` under the same root
 * as the image; in the guest `/lib/modules/<rel>` becomes a link into this
 * tree, so `build` and `source` must be absolute host paths, which the guest sees unchanged.
 */
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { GolabError, ExitCode, tailLines } from '../errors.ts';
import { hardDepends, madison, searchNames, type AptVersion } from './apt.ts';
import { chooseVersion, imageCandidates, isKernelPackage, kernelLine, type KernelLine } from './lines.ts';

/** Where the lab keeps kernels and run directories: `$GOLAB_CACHE`, else `/var/cache/go-ebpf-lab`. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env['GOLAB_CACHE'] || '/var/cache/go-ebpf-lab';
}

/** The cache directory of one kernel line. */
export function kernelDir(line: KernelLine, env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheRoot(env), 'kernels', line.id);
}

/** A package to download, pinned to one version. */
export interface PackagePin {
  /** Package name. */
  readonly name: string;
  /** Exact Debian version. */
  readonly version: string;
  /** Suite it comes from. */
  readonly suite: string;
}

/** What `fetchKernel` will download for a line. */
export interface KernelPlan {
  /** The line. */
  readonly line: KernelLine;
  /** `uname -r` of the kernel, e.g. `6.1.0-56-amd64`. */
  readonly release: string;
  /** Debian version of the image, e.g. `6.1.192-2`. */
  readonly version: string;
  /** Image, split binary/modules parts, headers, -common headers and kbuild. */
  readonly packages: readonly PackagePin[];
}

/** A kernel unpacked in the cache, ready to boot. */
export interface CachedKernel {
  /** Line id, e.g. `6.1`. */
  readonly line: string;
  /** `uname -r` in the guest. */
  readonly release: string;
  /** Debian version of the image. */
  readonly version: string;
  /** The line's cache directory; the guest must see it at this path (the runner shares the cache). */
  readonly dir: string;
  /** The unpacked package tree. */
  readonly root: string;
  /** The kernel image to boot. */
  readonly vmlinuz: string;
  /** `<root>/lib/modules/<release>`. */
  readonly moduleDir: string;
  /** The headers BCC uses: what `build` and `source` in the module directory point at. */
  readonly headers: { readonly build: string; readonly source: string };
  /** The packages it was made from. */
  readonly packages: readonly PackagePin[];
  /** When it was fetched (ISO 8601). */
  readonly fetchedAt: string;
}

const MANIFEST = 'kernel.json';

function unavailable(line: KernelLine, why: string, detail?: string): GolabError {
  return new GolabError('VM_KERNEL_UNAVAILABLE', `kernel ${line.id} (${line.description}) cannot be had: ${why}`, {
    hint: `run 'sudo provision/vm.sh' (it adds the ${line.suites[0]} suite at a low pin) and 'sudo apt-get update', then retry`,
    exitCode: ExitCode.environment,
    detail,
  });
}

/**
 * Resolves a line to exact packages from apt's lists: the newest image from the line's suites
 * whose headers can also be had, plus everything kernel-shaped that the image and headers
 * depend on (the 7.x split into linux-binary/linux-modules, -common headers, linux-kbuild).
 */
export async function resolveKernel(line: KernelLine): Promise<KernelPlan> {
  const escaped = line.versionPrefix.replaceAll('.', '\\.');
  const names = await searchNames(`^linux-image-${escaped}.*-amd64$`);
  const candidates = imageCandidates(line, await madison(names));
  if (candidates.length === 0) {
    throw unavailable(line, `apt knows no linux-image-${line.versionPrefix}*-amd64 from ${line.suites.join('/')}`);
  }
  const problems: string[] = [];
  for (const image of candidates) {
    const headers = `linux-headers-${image.release}`;
    const wanted = new Set<string>([image.name, headers]);
    const queue = [...wanted];
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      for (const dependency of await hardDepends(name)) {
        if (isKernelPackage(dependency) && !wanted.has(dependency)) {
          wanted.add(dependency);
          queue.push(dependency);
        }
      }
    }
    const rows = await madison([...wanted]);
    const pins: PackagePin[] = [];
    const missing: string[] = [];
    for (const name of wanted) {
      const row: AptVersion | undefined = chooseVersion(line, image.version, rows.filter((r) => r.name === name));
      if (row) pins.push({ name, version: row.version, suite: row.suite });
      else missing.push(name);
    }
    if (missing.length === 0) return { line, release: image.release, version: image.version, packages: pins };
    problems.push(`${image.release}: no ${missing.join(', ')}`);
  }
  throw unavailable(line, problems.join('; '));
}

/** Reads a line's manifest; undefined when the line is not (completely) cached. */
export async function readCachedKernel(
  line: KernelLine,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CachedKernel | undefined> {
  const manifest = join(kernelDir(line, env), MANIFEST);
  if (!existsSync(manifest)) return undefined;
  const kernel = JSON.parse(await readFile(manifest, 'utf8')) as CachedKernel;
  return existsSync(kernel.vmlinuz) ? kernel : undefined;
}

/** Every completely cached line, in {@link KERNEL_LINES} order. */
export async function listCachedKernels(env: NodeJS.ProcessEnv = process.env): Promise<CachedKernel[]> {
  const root = join(cacheRoot(env), 'kernels');
  if (!existsSync(root)) return [];
  const kernels: CachedKernel[] = [];
  for (const entry of await readdir(root)) {
    let line: KernelLine;
    try {
      line = kernelLine(entry);
    } catch {
      continue; // partial downloads and foreign directories
    }
    const kernel = await readCachedKernel(line, env);
    if (kernel) kernels.push(kernel);
  }
  return kernels;
}

/** Options of {@link fetchKernel}. */
export interface FetchOptions {
  /** Fetch again even when the line is cached. */
  readonly force?: boolean;
  /** Progress lines ("downloading …"). */
  readonly onProgress?: (message: string) => void;
  /** Environment for {@link cacheRoot}. */
  readonly env?: NodeJS.ProcessEnv;
}

async function run(line: KernelLine, file: string, args: readonly string[], cwd?: string): Promise<void> {
  const result = await execa(file, args, { cwd, reject: false, all: true });
  if (result.exitCode !== 0) {
    throw unavailable(line, `'${file} ${args.join(' ')}' failed (exit ${result.exitCode})`, tailLines(result.all ?? '', 20));
  }
}

/**
 * Makes sure a line is in the cache and returns it. Idempotent: a cached line is returned as is
 * (unless `force`). The work happens in a `.partial-<pid>` directory renamed into place at the end,
 * so an interrupted fetch never leaves a line that looks complete.
 */
export async function fetchKernel(lineOrId: KernelLine | string, options: FetchOptions = {}): Promise<CachedKernel> {
  const line = typeof lineOrId === 'string' ? kernelLine(lineOrId) : lineOrId;
  const env = options.env ?? process.env;
  const progress = options.onProgress ?? (() => {});
  if (!options.force) {
    const cached = await readCachedKernel(line, env);
    if (cached) return cached;
  }
  const plan = await resolveKernel(line);
  const finalDir = kernelDir(line, env);
  const workDir = `${finalDir}.partial-${process.pid}`;
  await rm(workDir, { recursive: true, force: true });
  await mkdir(join(workDir, 'debs'), { recursive: true });
  try {
    for (const pin of plan.packages) {
      progress(`downloading ${pin.name} ${pin.version} (${pin.suite})`);
      await run(line, 'apt-get', ['download', '-q', `${pin.name}=${pin.version}`], join(workDir, 'debs'));
    }
    const root = join(workDir, 'root');
    await mkdir(root, { recursive: true });
    for (const deb of (await readdir(join(workDir, 'debs'))).filter((name) => name.endsWith('.deb')).sort()) {
      progress(`unpacking ${deb}`);
      await run(line, 'dpkg-deb', ['-x', join(workDir, 'debs', deb), root]);
    }
    const kernel = await arrangeTree(line, plan, workDir, finalDir);
    progress(`depmod ${plan.release}`);
    await run(line, 'depmod', ['-a', '-b', root, plan.release]);
    await writeFile(join(workDir, MANIFEST), `${JSON.stringify(kernel, null, 2)}\n`);
    await rm(finalDir, { recursive: true, force: true });
    await rename(workDir, finalDir);
    return kernel;
  } catch (error) {
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function replaceLink(path: string, target: string): Promise<void> {
  await rm(path, { force: true });
  await symlink(target, path);
}

/**
 * Puts the unpacked tree in the shape virtme-ng and BCC expect and returns the manifest (with
 * paths as they will be after the rename to `finalDir`):
 * - trixie packages ship `usr/lib/modules`; vng looks for `<root>/lib/modules`, so a merged-/usr
 *   `lib -> usr/lib` link is added when the tree has no `lib` of its own;
 * - `build` and `source` are relinked to the unpacked headers by absolute path.
 */
async function arrangeTree(line: KernelLine, plan: KernelPlan, workDir: string, finalDir: string): Promise<CachedKernel> {
  const root = join(workDir, 'root');
  const finalRoot = join(finalDir, 'root');
  if (!existsSync(join(root, 'lib')) && (await isDirectory(join(root, 'usr', 'lib', 'modules')))) {
    await symlink('usr/lib', join(root, 'lib'));
  }
  // Debian ≤ 6.12 ships /boot/vmlinuz-<rel>; the 7.x split puts it in the module directory.
  const image = [join('boot', `vmlinuz-${plan.release}`), join('lib', 'modules', plan.release, 'vmlinuz')].find((path) =>
    existsSync(join(root, path)),
  );
  if (image === undefined) {
    throw unavailable(line, `the packages hold neither boot/vmlinuz-${plan.release} nor lib/modules/${plan.release}/vmlinuz`);
  }
  const moduleDir = join(root, 'lib', 'modules', plan.release);
  if (!(await isDirectory(moduleDir))) throw unavailable(line, `the packages hold no lib/modules/${plan.release}`);

  const srcDir = join(root, 'usr', 'src');
  const sources = existsSync(srcDir) ? await readdir(srcDir) : [];
  const build = `linux-headers-${plan.release}`;
  if (!sources.includes(build)) throw unavailable(line, `the headers package holds no usr/src/${build}`);
  const common = sources.find((name) => name.startsWith('linux-headers-') && name.endsWith('-common'));
  const headers = {
    build: join(finalRoot, 'usr', 'src', build),
    source: join(finalRoot, 'usr', 'src', common ?? build),
  };
  await replaceLink(join(moduleDir, 'build'), headers.build);
  await replaceLink(join(moduleDir, 'source'), headers.source);
  await checkRelativeLinks(line, join(srcDir, build));

  return {
    line: line.id,
    release: plan.release,
    version: plan.version,
    dir: finalDir,
    root: finalRoot,
    vmlinuz: join(finalRoot, image),
    moduleDir: join(finalRoot, 'lib', 'modules', plan.release),
    headers,
    packages: plan.packages,
    fetchedAt: new Date().toISOString(),
  };
}

/**
 * The -amd64 headers link into linux-kbuild and the -common tree with relative links; a dangling
 * one means a package is missing from the plan, and BCC would fail later with a confusing error.
 */
async function checkRelativeLinks(line: KernelLine, headersDir: string): Promise<void> {
  const dangling: string[] = [];
  for (const entry of await readdir(headersDir)) {
    const path = join(headersDir, entry);
    if (!(await lstat(path)).isSymbolicLink()) continue;
    if (!existsSync(path)) dangling.push(`${entry} -> ${await readlink(path)}`);
  }
  if (dangling.length > 0) {
    throw unavailable(line, `the headers link to files no package supplied`, tailLines(dangling.join('\n'), 10));
  }
}
