/**
 * Which libbcc C API a given `libbcc.so.0` speaks.
 *
 * libbcc exports no version symbol (bcc's `LIBBCC_VERSION` macros exist only at compile time),
 * and an FFI call with the wrong prototype fails silently instead of at build time as cgo
 * would. So the API level is decided by probing for symbols that appeared or vanished in known
 * releases, and the file name (`libbcc.so.0.<version>`) is only used to name the version.
 * The facts come from bcc's history; see the README's "libbcc versions" table.
 */

/** Features of the loaded libbcc that change how it must be called. */
export interface BccApiLevel {
  /** `bcc_func_load` takes 12 arguments (a trailing `int attach_type`) from bcc 0.25 on, 11 before. */
  readonly funcLoadArity: 11 | 12;
  /** `bpf_open_perf_buffer_opts` (with `wakeup_events`) exists: bcc 0.24 and later. */
  readonly perfBufferOpts: boolean;
  /** `perf_reader_consume` exists: bcc 0.24 and later. */
  readonly perfReaderConsume: boolean;
  /** The ring buffer API (`bpf_new_ringbuf` …) exists: bcc 0.16 and later. */
  readonly ringBuffer: boolean;
  /** The oldest release consistent with the probed symbols, e.g. `0.25`. */
  readonly minimumVersion: string;
}

/** A symbol whose presence or absence dates a libbcc build. */
interface VersionMarker {
  readonly symbol: string;
  /** `present` means the symbol exists from `version` on; `absent` means it was removed in `version`. */
  readonly when: 'present' | 'absent';
  readonly version: string;
}

/**
 * Symbols that date a build, newest first. `bpf_module_create_b` was removed in 0.24 (B language
 * removed, b8ff0856); `__so_calc_global_addr` arrived in 0.25 together with the 12-argument
 * `bcc_func_load` (ffff0edc).
 */
const VERSION_MARKERS: readonly VersionMarker[] = [
  { symbol: 'kernel_enum_has_val', when: 'present', version: '0.35' },
  { symbol: 'bcc_elf_is_pie', when: 'present', version: '0.32' },
  { symbol: 'bcc_procutils_which_so_in_process', when: 'present', version: '0.31' },
  { symbol: 'bcc_zip_archive_open', when: 'present', version: '0.27' },
  { symbol: '__so_calc_global_addr', when: 'present', version: '0.25' },
  { symbol: 'bpf_open_perf_buffer_opts', when: 'present', version: '0.24' },
  { symbol: 'bpf_module_create_b', when: 'absent', version: '0.24' },
  { symbol: 'bpf_new_ringbuf', when: 'present', version: '0.16' },
];

/** The symbols {@link selectApiLevel} asks about. */
export const PROBED_SYMBOLS: readonly string[] = [
  ...new Set([...VERSION_MARKERS.map((m) => m.symbol), 'perf_reader_consume']),
];

/** Compares dotted versions numerically: negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Decides the API level from which symbols the library exports.
 * `hasSymbol` answers whether the loaded library exports a C symbol of that name.
 */
export function selectApiLevel(hasSymbol: (name: string) => boolean): BccApiLevel {
  let minimum = '0.0';
  for (const marker of VERSION_MARKERS) {
    const present = hasSymbol(marker.symbol);
    const dated = marker.when === 'present' ? present : !present;
    if (dated && compareVersions(marker.version, minimum) > 0) minimum = marker.version;
  }
  return {
    funcLoadArity: compareVersions(minimum, '0.25') >= 0 ? 12 : 11,
    perfBufferOpts: hasSymbol('bpf_open_perf_buffer_opts'),
    perfReaderConsume: hasSymbol('perf_reader_consume'),
    ringBuffer: hasSymbol('bpf_new_ringbuf'),
    minimumVersion: minimum,
  };
}

/**
 * The release named by the library's real file name (`libbcc.so.0.26.0` → `0.26.0`), if it has one.
 * Source builds without `.git` get garbage here (bcc #285), so this only labels; it never decides.
 */
export function versionFromFileName(realPath: string): string | undefined {
  const match = /libbcc\.so\.(\d+\.\d+\.\d+)$/.exec(realPath);
  return match?.[1];
}
