/**
 * The thin typed layer over `libbcc.so.0`: one declaration per C function, with the prototype
 * chosen for the API level of the library actually loaded (see signatures.ts).
 *
 * Nothing here allocates BPF objects; module.ts, uprobe.ts, perf-buffer.ts and ring-buffer.ts
 * build the idiomatic API on top of it.
 */
import { readFileSync, realpathSync } from 'node:fs';
import koffi, { type LibraryHandle } from 'koffi';
import { ExitCode, GolabError } from '../errors.ts';
import { selectApiLevel, versionFromFileName, type BccApiLevel } from './signatures.ts';

/** A C pointer as koffi represents it: a BigInt address, or null. */
export type CPointer = bigint | null;

/** Callback prototypes, declared once per process (koffi type names are global). */
const perfRawCb = koffi.proto('void golab_perf_raw_cb(void *cookie, void *raw, int size)');
const perfLostCb = koffi.proto('void golab_perf_lost_cb(void *cookie, uint64_t lost)');
const ringSampleCb = koffi.proto('int golab_ring_sample_cb(void *ctx, void *data, size_t size)');
koffi.struct('golab_bcc_perf_buffer_opts', { pid: 'int', cpu: 'int', wakeup_events: 'int' });
// `module` is kept as a raw pointer: libbcc allocates it and bcc_procutils_free must release it.
koffi.struct('golab_bcc_symbol', { name: 'void *', demangle_name: 'void *', module: 'void *', offset: 'uint64_t' });

/** The prototypes of registered callbacks, for `koffi.register`. */
export const callbackTypes = {
  perfRaw: koffi.pointer(perfRawCb),
  perfLost: koffi.pointer(perfLostCb),
  ringSample: koffi.pointer(ringSampleCb),
} as const;

/** A koffi-registered callback handle. */
export type RegisteredCallback = ReturnType<typeof koffi.register>;

/** `bpf_probe_attach_type`. */
export const BPF_PROBE_ENTRY = 0;

/** `BPF_PROG_TYPE_KPROBE`: uprobes use the kprobe program type. */
export const BPF_PROG_TYPE_KPROBE = 2;

/** The raw C functions of libbcc, typed. */
export interface LibBccFunctions {
  bpf_module_create_c_from_string(
    text: string,
    flags: number,
    cflags: string[],
    ncflags: number,
    allowRlimit: boolean,
    devName: string | null,
  ): CPointer;
  bpf_module_destroy(module: CPointer): void;
  bpf_module_license(module: CPointer): string;
  bpf_module_kern_version(module: CPointer): number;
  bpf_function_start(module: CPointer, name: string): CPointer;
  bpf_function_size(module: CPointer, name: string): number;
  bpf_table_fd(module: CPointer, name: string): number;
  /** Always called with the 11 leading arguments; the wrapper adds `attach_type` where it exists. */
  bcc_func_load(
    module: CPointer,
    progType: number,
    name: string,
    insns: CPointer,
    progLen: number,
    license: string,
    kernVersion: number,
    logLevel: number,
    logBuf: Buffer | null,
    logBufSize: number,
    devName: string | null,
  ): number;
  /** bcc_func_load with an expected attach type (e.g. BPF_TRACE_UPROBE_MULTI); only on bcc ≥ 0.25. */
  bcc_func_load_attach?(
    module: CPointer,
    progType: number,
    name: string,
    insns: CPointer,
    progLen: number,
    license: string,
    kernVersion: number,
    logLevel: number,
    logBuf: Buffer | null,
    logBufSize: number,
    devName: string | null,
    attachType: number,
  ): number;
  bpf_attach_uprobe(
    progFd: number,
    attachType: number,
    evName: string,
    binaryPath: string,
    offset: bigint,
    pid: number,
    refCtrOffset: number,
  ): number;
  bpf_detach_uprobe(evName: string): number;
  bpf_close_perf_event_fd(fd: number): number;
  /** The same call on a worker thread: closing a uprobe's perf event waits for the kernel to sync. */
  bpf_close_perf_event_fd_async(fd: number): Promise<number>;
  bpf_open_perf_buffer(
    rawCb: RegisteredCallback,
    lostCb: RegisteredCallback | null,
    cookie: CPointer,
    pid: number,
    cpu: number,
    pageCnt: number,
  ): CPointer;
  /** Only on bcc ≥ 0.24. */
  bpf_open_perf_buffer_opts?(
    rawCb: RegisteredCallback,
    lostCb: RegisteredCallback | null,
    cookie: CPointer,
    pageCnt: number,
    opts: { pid: number; cpu: number; wakeup_events: number },
  ): CPointer;
  perf_reader_poll(count: number, readers: bigint[], timeoutMs: number): number;
  /** Only on bcc ≥ 0.24. */
  perf_reader_consume?(count: number, readers: bigint[]): number;
  perf_reader_fd(reader: CPointer): number;
  perf_reader_free(reader: CPointer): void;
  bpf_update_elem(fd: number, key: Buffer, value: Buffer, flags: bigint): number;
  bpf_lookup_elem(fd: number, key: Buffer, value: Buffer): number;
  bpf_delete_elem(fd: number, key: Buffer): number;
  bpf_get_next_key(fd: number, key: Buffer | null, nextKey: Buffer): number;
  bpf_new_ringbuf(mapFd: number, cb: RegisteredCallback, ctx: CPointer): CPointer;
  bpf_poll_ringbuf(rb: CPointer, timeoutMs: number): number;
  bpf_consume_ringbuf(rb: CPointer): number;
  bpf_free_ringbuf(rb: CPointer): void;
  bcc_resolve_symname(
    module: string,
    symname: string,
    addr: bigint,
    pid: number,
    option: null,
    sym: { name: CPointer; demangle_name: CPointer; module: CPointer; offset: bigint | number },
  ): number;
  bcc_procutils_free(ptr: CPointer): void;
}

/** A loaded libbcc and what it can do. */
export interface LibBcc {
  /** The path that was loaded, resolved (e.g. `/usr/lib/x86_64-linux-gnu/libbcc.so.0.26.0`). */
  readonly path: string;
  /** The release from the file name, or the oldest release the symbols allow (`≥0.25`). */
  readonly version: string;
  /** The API level probed from the symbols. */
  readonly api: BccApiLevel;
  /** The typed C functions. */
  readonly fn: LibBccFunctions;
}

/** The directories searched for `libbcc.so.0`, besides the dynamic loader's own path. */
const SEARCH_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib', '/usr/local/lib64'];

let cached: LibBcc | undefined;

/**
 * Loads libbcc once per process. `GOLAB_LIBBCC` overrides the path (the chroot tests use it).
 * Throws `BCC_MISSING` when no library can be loaded and `BCC_UNKNOWN_VERSION` when its symbols
 * match no known release.
 */
export function loadLibBcc(path = process.env.GOLAB_LIBBCC): LibBcc {
  if (cached && (path === undefined || cached.path === safeRealpath(path))) return cached;
  const library = openLibrary(path);
  const hasSymbol = (name: string): boolean => {
    try {
      library.lib.func(`void ${name}(void)`);
      return true;
    } catch {
      return false;
    }
  };
  if (!hasSymbol('bpf_module_create_c_from_string') || !hasSymbol('bcc_func_load')) {
    throw new GolabError('BCC_UNKNOWN_VERSION', `${library.path} does not export bcc's module API (bpf_module_create_c_from_string, bcc_func_load)`, {
      hint: 'install libbcc 0.18 or later (Debian/Ubuntu: apt-get install libbpfcc), or point GOLAB_LIBBCC at a libbcc.so.0',
      exitCode: ExitCode.environment,
    });
  }
  const api = selectApiLevel(hasSymbol);
  const fn = declare(library.lib, api);
  const version = versionFromFileName(library.path) ?? `≥${api.minimumVersion}`;
  cached = { path: library.path, version, api, fn };
  return cached;
}

function safeRealpath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function openLibrary(path: string | undefined): { lib: LibraryHandle; path: string } {
  const candidates = path ? [path] : ['libbcc.so.0', ...SEARCH_DIRS.map((dir) => `${dir}/libbcc.so.0`)];
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      const lib = koffi.load(candidate);
      return { lib, path: resolveLoadedPath(candidate) };
    } catch (error) {
      failures.push(`${candidate}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new GolabError('BCC_MISSING', `cannot load libbcc.so.0 (${failures[0] ?? 'not found'})`, {
    hint: 'run sudo ./provision/host.sh, or install libbcc (Debian/Ubuntu: apt-get install libbpfcc), or set GOLAB_LIBBCC to its path',
    exitCode: ExitCode.environment,
  });
}

/** Finds the real file behind a loaded soname through this process's own mappings. */
function resolveLoadedPath(candidate: string): string {
  if (candidate.includes('/')) return safeRealpath(candidate);
  try {
    const maps = readFileSync('/proc/self/maps', 'utf8');
    const line = maps.split('\n').find((l) => /\/libbcc\.so\.0[.\d]*$/.test(l));
    if (line) return safeRealpath(line.slice(line.indexOf('/')));
  } catch {
    // Fall through to the search path.
  }
  return candidate;
}

function declare(lib: LibraryHandle, api: BccApiLevel): LibBccFunctions {
  const f = <T>(decl: string): T => lib.func(decl) as unknown as T;
  const funcLoad11 = 'int bcc_func_load(void *program, int prog_type, const char *name, void *insns, int prog_len, const char *license, unsigned int kern_version, int log_level, _Out_ uint8_t *log_buf, unsigned int log_buf_size, const char *dev_name';
  const closePerfEvent = lib.func('int bpf_close_perf_event_fd(int fd)');
  const rawFuncLoad = lib.func(api.funcLoadArity === 12 ? `${funcLoad11}, int attach_type)` : `${funcLoad11})`);
  const fn: LibBccFunctions = {
    bpf_module_create_c_from_string: f(
      'void *bpf_module_create_c_from_string(const char *text, unsigned int flags, const char **cflags, int ncflags, bool allow_rlimit, const char *dev_name)',
    ),
    bpf_module_destroy: f('void bpf_module_destroy(void *program)'),
    bpf_module_license: f('const char *bpf_module_license(void *program)'),
    bpf_module_kern_version: f('unsigned int bpf_module_kern_version(void *program)'),
    bpf_function_start: f('void *bpf_function_start(void *program, const char *name)'),
    bpf_function_size: f('size_t bpf_function_size(void *program, const char *name)'),
    bpf_table_fd: f('int bpf_table_fd(void *program, const char *table_name)'),
    // BCC 0.25 added `int attach_type` (-1 = none). Passing 11 arguments to the 12-argument
    // function would leave it as register garbage, so the arity was chosen by probing.
    bcc_func_load: (...args) => (api.funcLoadArity === 12 ? rawFuncLoad(...args, -1) : rawFuncLoad(...args)) as number,
    bpf_attach_uprobe: f(
      'int bpf_attach_uprobe(int progfd, int attach_type, const char *ev_name, const char *binary_path, uint64_t offset, int pid, uint32_t ref_ctr_offset)',
    ),
    bpf_detach_uprobe: f('int bpf_detach_uprobe(const char *ev_name)'),
    bpf_close_perf_event_fd: closePerfEvent,
    bpf_close_perf_event_fd_async: (fd) =>
      new Promise((resolve, reject) =>
        closePerfEvent.async(fd, (error: unknown, rc: number) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(rc))),
      ),
    bpf_open_perf_buffer: f(
      'void *bpf_open_perf_buffer(golab_perf_raw_cb *raw_cb, golab_perf_lost_cb *lost_cb, void *cb_cookie, int pid, int cpu, int page_cnt)',
    ),
    perf_reader_poll: f('int perf_reader_poll(int num_readers, void **readers, int timeout)'),
    perf_reader_fd: f('int perf_reader_fd(void *reader)'),
    perf_reader_free: f('void perf_reader_free(void *ptr)'),
    bpf_update_elem: f('int bpf_update_elem(int fd, const void *key, const void *value, unsigned long long flags)'),
    bpf_lookup_elem: f('int bpf_lookup_elem(int fd, const void *key, _Out_ void *value)'),
    bpf_delete_elem: f('int bpf_delete_elem(int fd, const void *key)'),
    bpf_get_next_key: f('int bpf_get_next_key(int fd, const void *key, _Out_ void *next_key)'),
    bpf_new_ringbuf: f('void *bpf_new_ringbuf(int map_fd, golab_ring_sample_cb *sample_cb, void *ctx)'),
    bpf_poll_ringbuf: f('int bpf_poll_ringbuf(void *rb, int timeout_ms)'),
    bpf_consume_ringbuf: f('int bpf_consume_ringbuf(void *rb)'),
    bpf_free_ringbuf: f('void bpf_free_ringbuf(void *rb)'),
    bcc_resolve_symname: f(
      'int bcc_resolve_symname(const char *module, const char *symname, uint64_t addr, int pid, void *option, _Out_ golab_bcc_symbol *sym)',
    ),
    bcc_procutils_free: f('void bcc_procutils_free(void *ptr)'),
  };
  if (api.funcLoadArity === 12) fn.bcc_func_load_attach = (...args) => rawFuncLoad(...args) as number;
  if (api.perfBufferOpts) {
    fn.bpf_open_perf_buffer_opts = f(
      'void *bpf_open_perf_buffer_opts(golab_perf_raw_cb *raw_cb, golab_perf_lost_cb *lost_cb, void *cb_cookie, int page_cnt, golab_bcc_perf_buffer_opts *opts)',
    );
  }
  if (api.perfReaderConsume) {
    fn.perf_reader_consume = f('int perf_reader_consume(int num_readers, void **readers)');
  }
  return fn;
}
