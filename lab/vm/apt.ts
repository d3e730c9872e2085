/**
 * Thin, parseable views of `apt-cache` output. The parsers are pure so the package-name
 * resolution can be tested without a Debian mirror; the query functions run the real tools.
 */
import { execa } from 'execa';

/** One downloadable version of a package, as `apt-cache madison` lists it. */
export interface AptVersion {
  /** Package name, e.g. `linux-image-6.1.0-56-amd64`. */
  readonly name: string;
  /** Debian version, e.g. `6.1.192-2`. */
  readonly version: string;
  /** Suite the version comes from, e.g. `bookworm-security` (the component is dropped). */
  readonly suite: string;
}

/**
 * Parses `apt-cache madison` output. Lines look like
 * `linux-image-6.1.0-56-amd64 |  6.1.192-2 | http://deb.debian.org/debian-security bookworm-security/main amd64 Packages`;
 * source-package lines (`... Sources`) are skipped because they cannot be downloaded as .debs.
 */
export function parseMadison(text: string): AptVersion[] {
  const versions: AptVersion[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split('|').map((field) => field.trim());
    if (fields.length < 3) continue;
    const [name, version, origin] = fields as [string, string, string];
    const words = origin.split(/\s+/);
    if (words.at(-1) !== 'Packages') continue;
    const suiteAndComponent = words[1];
    if (!name || !version || !suiteAndComponent) continue;
    versions.push({ name, version, suite: suiteAndComponent.split('/')[0]! });
  }
  return versions;
}

/** Parses `apt-cache search --names-only` output (`name - description`) into names. */
export function parseSearchNames(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.split(' - ')[0]?.trim() ?? '')
    .filter((name) => name.length > 0);
}

/**
 * Parses `apt-cache depends` output into the names a package hard-depends on (Depends and
 * PreDepends; alternatives included, since `|Depends:` lines name real candidates too).
 * Virtual packages (`<name>`) are skipped: they cannot be downloaded.
 */
export function parseDepends(text: string): string[] {
  const names: string[] = [];
  for (const line of text.split('\n')) {
    const match = /^\s*\|?(?:Pre)?Depends:\s+(\S+)/.exec(line);
    const name = match?.[1];
    if (name && !name.startsWith('<')) names.push(name);
  }
  return names;
}

/**
 * Splits a version-like string into its numbers, for ordering kernel versions:
 * `6.1.192-2` → [6, 1, 192, 2]; `7.3.4-1~bpo13+1` → [7, 3, 4, 1, 13, 1].
 */
export function versionNumbers(version: string): number[] {
  return (version.match(/\d+/g) ?? []).map(Number);
}

/** Orders two number lists lexicographically (shorter list first on a tie). */
export function compareNumbers(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const diff = a[i]! - b[i]!;
    if (diff !== 0) return diff;
  }
  return a.length - b.length;
}

/** Runs `apt-cache search --names-only REGEX` and returns the package names. */
export async function searchNames(regex: string): Promise<string[]> {
  const { stdout } = await execa('apt-cache', ['search', '--names-only', regex]);
  return parseSearchNames(stdout);
}

/** Runs `apt-cache madison` for the names (no output for names apt does not know). */
export async function madison(names: readonly string[]): Promise<AptVersion[]> {
  if (names.length === 0) return [];
  const { stdout } = await execa('apt-cache', ['madison', ...names], { reject: false });
  return parseMadison(stdout);
}

/** Runs `apt-cache depends` without the soft relations and returns the hard dependencies. */
export async function hardDepends(name: string): Promise<string[]> {
  const { stdout } = await execa(
    'apt-cache',
    ['depends', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances', name],
    { reject: false },
  );
  return parseDepends(stdout);
}
