/**
 * The vocabulary of lab/toolchain: what a discovered Go toolchain is, and the build modes the
 * matrix compiles every tracee in.
 */

/** Which compiler family a toolchain belongs to. */
export type ToolchainKind = 'gc' | 'gccgo';

/**
 * How a toolchain passes arguments on amd64, which decides where a uprobe finds them:
 * `abi0` (gc ≤ 1.16: all on the stack), `abiinternal` (gc ≥ 1.17: RAX, RBX, …, X0–X14),
 * `sysv` (gccgo: the C calling convention, RDI, RSI, …, XMM0–7).
 */
export type GoAbi = 'abi0' | 'abiinternal' | 'sysv';

/** A Go toolchain found on this machine. */
export interface Toolchain {
  /** Stable name used in reports and specs: `go1.19.8` for gc, `gccgo-12` for gccgo. */
  readonly id: string;
  /** Compiler family. */
  readonly kind: ToolchainKind;
  /**
   * The Go version without the `go` prefix: `1.19.8` for gc; for gccgo, the Go language
   * version it implements (`1.18` for gccgo 12), taken from its go tool's release tags.
   */
  readonly version: string;
  /** GOROOT of a gc toolchain (absent for gccgo, whose library lives inside GCC). */
  readonly goroot?: string;
  /** The `go` command that builds with this toolchain (for gccgo, its own go tool, e.g. go-12). */
  readonly goBinary: string;
  /** Argument-passing convention on amd64. */
  readonly abi: GoAbi;
  /** gccgo only: the gccgo compiler driver, e.g. /usr/bin/x86_64-linux-gnu-gccgo-12. */
  readonly gccgoBinary?: string;
  /** gccgo only: the GCC version, e.g. `12.2.0`. */
  readonly compilerVersion?: string;
  /**
   * What the toolchain said about itself (`go version` output, or gccgo's `--version` first
   * line). Part of the build cache key, so an in-place upgrade invalidates cached builds.
   */
  readonly fingerprint: string;
}

/** How a tracee is linked: the toolchain's default, position-independent, or stripped. */
export type BuildMode = 'default' | 'pie' | 'stripped';

/**
 * Build settings beyond {@link BuildMode}, for the tests of the binary readers and the DWARF
 * cross-check (the matrix never sets them). They reach the cache key through the build's
 * arguments and environment, so each combination is cached on its own.
 */
export interface BuildTweaks {
  /** Also strip (`-ldflags=-s -w`, gccgo `-s`) a `pie` build: a stripped PIE. */
  readonly strip?: boolean;
  /**
   * gc only: link with the C linker (`-ldflags=-linkmode=external`), as cgo programs are.
   * Needs cgo, so such builds run with CGO_ENABLED=1.
   */
  readonly externalLink?: boolean;
  /**
   * gccgo only: GCC's optimization level, 1 unless set (see build.ts). At 0 the prologue copies
   * every register argument to a stack home slot and DWARF describes only that slot, which is
   * what the DWARF cross-check and the readers' tests of gccgo's -O0 DWARF rely on.
   */
  readonly gccgoOptimization?: 0 | 1;
  /** gccgo only: more compiler flags, e.g. `-fcf-protection=full`. */
  readonly gccgoFlags?: readonly string[];
}

/** Every {@link BuildMode}, in report order. */
export const BUILD_MODES: readonly BuildMode[] = ['default', 'pie', 'stripped'];

/** True when `value` names a {@link BuildMode}. */
export function isBuildMode(value: string): value is BuildMode {
  return (BUILD_MODES as readonly string[]).includes(value);
}
