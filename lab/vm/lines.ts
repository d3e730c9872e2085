/**
 * The kernel lines the lab boots, and how Debian names their packages. A line is a kernel
 * series from one Debian suite (6.1 from bookworm, ...); the exact package — its ABI number
 * or `+debN` release — is resolved from apt's lists at fetch time, never hard-coded, because
 * Debian replaces those names with every security update.
 */
import { GolabError, ExitCode } from '../errors.ts';
import { compareNumbers, versionNumbers, type AptVersion } from './apt.ts';

/** A kernel series from Debian that the lab can fetch and boot. */
export interface KernelLine {
  /** What users type after `--kernel`, and the cache directory name: `5.10`, `6.1`, `6.12`, `7`. */
  readonly id: string;
  /** Which Debian suites may supply it. Security and update suites count as the release's own. */
  readonly suites: readonly string[];
  /** Upstream version prefix of the kernels in the line, e.g. `6.1.` or `7.`. */
  readonly versionPrefix: string;
  /** One line for `golab vm list`. */
  readonly description: string;
}

/** The lines of issue 4: one per Debian release, plus the newest 7.x from trixie-backports. */
export const KERNEL_LINES: readonly KernelLine[] = [
  {
    id: '5.10',
    suites: ['bullseye', 'bullseye-security', 'bullseye-updates'],
    versionPrefix: '5.10.',
    description: 'Debian 11 (bullseye)',
  },
  {
    id: '6.1',
    suites: ['bookworm', 'bookworm-security', 'bookworm-updates'],
    versionPrefix: '6.1.',
    description: 'Debian 12 (bookworm)',
  },
  {
    id: '6.12',
    suites: ['trixie', 'trixie-security', 'trixie-updates'],
    versionPrefix: '6.12.',
    description: 'Debian 13 (trixie)',
  },
  {
    id: '7',
    suites: ['trixie-backports'],
    versionPrefix: '7.',
    description: 'newest 7.x from trixie-backports',
  },
];

/** Other spellings users reach for. */
const ALIASES: Readonly<Record<string, string>> = {
  '7.x': '7',
  latest: '7',
  bullseye: '5.10',
  bookworm: '6.1',
  trixie: '6.12',
  'trixie-backports': '7',
};

/** Looks a line up by id or alias; throws `VM_KERNEL_UNKNOWN` (a usage error) otherwise. */
export function kernelLine(spec: string): KernelLine {
  const id = ALIASES[spec.trim()] ?? spec.trim();
  const line = KERNEL_LINES.find((candidate) => candidate.id === id);
  if (!line) {
    throw new GolabError('VM_KERNEL_UNKNOWN', `unknown kernel '${spec}'`, {
      hint: `use one of ${KERNEL_LINES.map((known) => known.id).join(', ')} (or 'all')`,
      exitCode: ExitCode.usage,
    });
  }
  return line;
}

/** Expands a comma-separated `--kernel` value (`6.1,7` or `all`) into lines, without duplicates. */
export function kernelLines(spec: string): KernelLine[] {
  if (spec.trim() === 'all') return [...KERNEL_LINES];
  const lines: KernelLine[] = [];
  for (const part of spec.split(',').filter((item) => item.trim() !== '')) {
    const line = kernelLine(part);
    if (!lines.includes(line)) lines.push(line);
  }
  return lines;
}

/**
 * The ABI part of a Debian kernel image name within a line: `linux-image-6.1.0-56-amd64` →
 * `6.1.0-56`, `linux-image-7.3.4+deb13-amd64` → `7.3.4+deb13`. Flavours other than the plain
 * `-amd64` (rt, cloud), meta packages (`linux-image-6.12-amd64`), `-dbg` and `-unsigned` give
 * undefined.
 */
export function imageAbi(line: KernelLine, packageName: string): string | undefined {
  const match = /^linux-image-(\d+\.\d+\.\d+(?:-\d+|\+deb\d+(?:\.\d+)?))-amd64$/.exec(packageName);
  const abi = match?.[1];
  return abi !== undefined && abi.startsWith(line.versionPrefix) ? abi : undefined;
}

/** A kernel image that can be downloaded for a line. */
export interface ImageCandidate {
  /** Image package name. */
  readonly name: string;
  /** `6.1.0-56` or `7.3.4+deb13`. */
  readonly abi: string;
  /** `uname -r` of the kernel: the ABI plus the flavour, `6.1.0-56-amd64`. */
  readonly release: string;
  /** Debian version of the image, from an allowed suite. */
  readonly version: string;
  /** Suite it comes from. */
  readonly suite: string;
}

/**
 * Picks the line's downloadable images from `apt-cache madison` rows, newest first.
 * Rows from suites outside the line are ignored, so `6.12.x+deb12` (bookworm-backports)
 * never stands in for trixie's 6.12.
 */
export function imageCandidates(line: KernelLine, rows: readonly AptVersion[]): ImageCandidate[] {
  const best = new Map<string, ImageCandidate>();
  for (const row of rows) {
    const abi = imageAbi(line, row.name);
    if (abi === undefined || !line.suites.includes(row.suite)) continue;
    const previous = best.get(row.name);
    if (previous && compareNumbers(versionNumbers(previous.version), versionNumbers(row.version)) >= 0) continue;
    best.set(row.name, { name: row.name, abi, release: `${abi}-amd64`, version: row.version, suite: row.suite });
  }
  return [...best.values()].sort(
    (a, b) =>
      compareNumbers(versionNumbers(b.version), versionNumbers(a.version)) ||
      compareNumbers(versionNumbers(b.abi), versionNumbers(a.abi)),
  );
}

/**
 * True for the packages that make up a bootable kernel plus its headers, as opposed to the
 * tools they also depend on (kmod, initramfs-tools, gcc): linux-image/binary/modules, the
 * headers and their -common half, linux-kbuild, and the versioned linux-base-* of the 7.x split.
 */
export function isKernelPackage(name: string): boolean {
  return /^linux-(image|binary|modules|headers|kbuild|base)-\d/.test(name) && !/-(unsigned|dbg)$/.test(name);
}

/**
 * Chooses which version of a kernel package to download: the image's own version when the
 * package has it (one source package builds them all), else the newest one from the line's suites.
 */
export function chooseVersion(
  line: KernelLine,
  imageVersion: string,
  rows: readonly AptVersion[],
): AptVersion | undefined {
  const allowed = rows.filter((row) => line.suites.includes(row.suite));
  return (
    allowed.find((row) => row.version === imageVersion) ??
    [...allowed].sort((a, b) => compareNumbers(versionNumbers(b.version), versionNumbers(a.version)))[0]
  );
}
