/**
 * Which calling convention compiled a binary's Go functions, from its Go version (buildinfo)
 * and, when DWARF is present, its compile units' DW_AT_producer.
 */
import { ExitCode, GolabError } from '../errors.ts';
import type { AbiName } from './layout.ts';

/** gc switched Go functions on amd64 to the register ABI in this minor release. */
const FIRST_REGABI_MINOR = 17;

/**
 * The ABI of the Go (not assembly) functions of a binary:
 * - gccgo (a version string or producer naming gccgo / "GNU Go"): `sysv`;
 * - a gc producer (`Go cmd/compile go1.19.8; regabi`) decides by its `regabi` token, which is
 *   what Delve and Pixie trust, and which also catches `GOEXPERIMENT=noregabi` builds of 1.17;
 * - otherwise the version: before go1.17 `abi0`, from go1.17 on `abiinternal` unless the version
 *   names the `noregabi` experiment (`go1.17.13 X:noregabi`).
 * Assembly functions use `abi0` on every version; callers that know a function is assembly
 * must use that instead.
 */
export function abiForGoVersion(goVersion: string, producer?: string): AbiName {
  if (/gccgo/i.test(goVersion) || (producer !== undefined && /^GNU Go\b/.test(producer))) return 'sysv';
  if (producer !== undefined && producer.startsWith('Go cmd/compile')) {
    return /(^|[;\s])regabi(\b|$)/.test(producer) ? 'abiinternal' : 'abi0';
  }
  const match = /go1\.(\d+)/.exec(goVersion);
  if (match === null) {
    throw new GolabError('ABI_UNKNOWN_GO_VERSION', `cannot tell the calling convention from Go version ${JSON.stringify(goVersion)}`, {
      hint: 'pass a version such as go1.19.8 (from `go version -m BINARY`) or a binary with .go.buildinfo or DWARF',
      exitCode: ExitCode.badBinary,
    });
  }
  const minor = Number(match[1]);
  if (minor < FIRST_REGABI_MINOR) return 'abi0';
  return /X:[^\s]*noregabi/.test(goVersion) ? 'abi0' : 'abiinternal';
}
