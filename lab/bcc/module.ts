/**
 * A compiled BCC module: C text in, loadable BPF programs and map fds out.
 * The idiomatic layer over library.ts, in the spirit of bcc's Python `BPF` class.
 */
import { ExitCode, GolabError, tailLines } from '../errors.ts';
import { captureNativeOutput } from './capture.ts';
import { BPF_PROG_TYPE_KPROBE, loadLibBcc, type CPointer, type LibBcc } from './library.ts';
import { lockdownMode } from './capabilities.ts';
import { privilegesError } from './permission.ts';

/** Options for {@link BpfModule.compile}. */
export interface CompileOptions {
  /** Extra clang flags, e.g. `-DGOLAB_REWRITE_A1=2021`. */
  readonly cflags?: readonly string[];
  /** bcc's `DEBUG_*` bitmask (0x2 prints the BPF instructions, 0x10 the verifier's register state). */
  readonly debugFlags?: number;
  /** The libbcc to use; the process-wide one by default. */
  readonly libbcc?: LibBcc;
}

/** A BPF program loaded into the kernel. */
export interface LoadedProgram {
  /** The C function name. */
  readonly name: string;
  /** The program fd, owned by the module. */
  readonly fd: number;
}

/** How many verifier log lines an error keeps: the end is where the reason is. */
const VERIFIER_LOG_LINES = 30;
/** How many lines of clang output an error keeps. */
const COMPILER_LOG_LINES = 40;
/** Buffer for the verifier log on the retry after a failed load (the kernel's maximum is 16 MiB). */
const VERIFIER_LOG_SIZE = 4 * 1024 * 1024;

/** A compiled BCC module. Dispose it to close its programs and maps. */
export class BpfModule implements Disposable {
  readonly #bcc: LibBcc;
  #handle: CPointer;
  readonly #programs = new Map<string, LoadedProgram>();
  /** Everything clang printed while compiling (warnings included). */
  readonly compilerOutput: string;

  private constructor(bcc: LibBcc, handle: CPointer, compilerOutput: string) {
    this.#bcc = bcc;
    this.#handle = handle;
    this.compilerOutput = compilerOutput;
  }

  /**
   * Compiles C text with BCC's clang frontend.
   * Throws `BCC_HEADERS_MISSING` when BCC finds no kernel headers and `BCC_COMPILE_FAILED` with
   * clang's diagnostics otherwise.
   */
  static compile(text: string, options: CompileOptions = {}): BpfModule {
    const bcc = options.libbcc ?? loadLibBcc();
    const cflags = [...(options.cflags ?? [])];
    const { result: handle, output } = captureNativeOutput(() =>
      bcc.fn.bpf_module_create_c_from_string(text, options.debugFlags ?? 0, cflags, cflags.length, true, null),
    );
    if (handle === null || handle === 0n) {
      if (/Unable to find kernel headers/.test(output)) {
        const source = process.env.BCC_KERNEL_SOURCE;
        throw new GolabError('BCC_HEADERS_MISSING', 'BCC found no kernel headers for the running kernel', {
          detail: tailLines(output, 6),
          hint: source
            ? `BCC_KERNEL_SOURCE=${source} has no include/linux/kconfig.h: unset it, or point it at a whole kernel source or headers tree`
            : `install linux-headers-$(uname -r), or link /lib/modules/$(uname -r)/build and /source to the nearest headers (sudo ./provision/host.sh does this)`,
          exitCode: ExitCode.environment,
        });
      }
      // Creating the maps is the first thing that needs privileges.
      const denied = privilegesError('BCC could not create the BPF maps', output);
      if (denied) throw denied;
      throw new GolabError('BCC_COMPILE_FAILED', 'BCC could not compile the BPF program', {
        detail: tailLines(onlyDiagnostics(output), COMPILER_LOG_LINES),
        hint: 'fix the C error shown above; generated programs failing here are a golab bug: please report it with this output',
        exitCode: ExitCode.compile,
      });
    }
    return new BpfModule(bcc, handle, output);
  }

  /** The libbcc this module was compiled with. */
  get libbcc(): LibBcc {
    return this.#bcc;
  }

  /**
   * Loads the C function `name` as a kprobe-type program (uprobes use that type), once per
   * `attachType` (the expected attach type, e.g. BPF_TRACE_UPROBE_MULTI for uprobe links).
   * Throws `BPF_HELPER_REFUSED` when the kernel forbids a helper the program calls (lockdown),
   * `BPF_CTX_WRITE_REFUSED` when it forbids writing pt_regs, `BPF_VERIFIER_REJECTED` otherwise.
   */
  load(name: string, options: { readonly attachType?: number } = {}): LoadedProgram {
    // A program loaded for another attach type is another kernel object.
    const key = options.attachType === undefined ? name : `${name}#${options.attachType}`;
    const known = this.#programs.get(key);
    if (known) return known;
    const handle = this.#live();
    const fn = this.#bcc.fn;
    const insns = fn.bpf_function_start(handle, name);
    if (insns === null || insns === 0n) {
      throw new GolabError('BPF_NO_SUCH_FUNCTION', `the BPF module has no function '${name}'`, {
        hint: 'name a C function defined in the program text',
        exitCode: ExitCode.usage,
      });
    }
    const size = fn.bpf_function_size(handle, name);
    const license = fn.bpf_module_license(handle);
    const kernVersion = fn.bpf_module_kern_version(handle);
    const attachType = options.attachType;
    const withType = fn.bcc_func_load_attach;
    if (attachType !== undefined && !withType) {
      throw new GolabError('BCC_NO_ATTACH_TYPE', `this libbcc cannot load '${name}' with an expected attach type`, {
        hint: 'use libbcc 0.25 or newer, or attach through perf events',
        exitCode: ExitCode.environment,
      });
    }
    const funcLoad = (logLevel: number, log: Buffer | null, logSize: number): number =>
      attachType === undefined
        ? fn.bcc_func_load(handle, BPF_PROG_TYPE_KPROBE, name, insns, size, license, kernVersion, logLevel, log, logSize, null)
        : withType!(handle, BPF_PROG_TYPE_KPROBE, name, insns, size, license, kernVersion, logLevel, log, logSize, null, attachType);
    const first = captureNativeOutput(() => funcLoad(0, null, 0));
    let fd = first.result;
    if (fd < 0) {
      // Load again with a log buffer: the verifier's last lines say why.
      const log = Buffer.alloc(VERIFIER_LOG_SIZE);
      const retry = captureNativeOutput(() => funcLoad(1, log, log.length));
      fd = retry.result;
      if (fd < 0) throw privilegesError(`cannot load BPF program '${name}'`, `${first.output}${retry.output}`) ?? loadError(name, cString(log) || retry.output || first.output);
    }
    const program = { name, fd };
    this.#programs.set(key, program);
    return program;
  }

  /** The fd of the map `name` (e.g. a `BPF_PERF_OUTPUT` table). */
  tableFd(name: string): number {
    const fd = this.#bcc.fn.bpf_table_fd(this.#live(), name);
    if (fd < 0) {
      throw new GolabError('BPF_NO_SUCH_TABLE', `the BPF module has no table '${name}'`, {
        hint: 'name a table declared in the program text (BPF_PERF_OUTPUT, BPF_HASH, …)',
        exitCode: ExitCode.usage,
      });
    }
    return fd;
  }

  /** Closes every program and map of the module. Idempotent. */
  dispose(): void {
    if (this.#handle === null) return;
    this.#bcc.fn.bpf_module_destroy(this.#handle);
    this.#handle = null;
    this.#programs.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  #live(): CPointer {
    if (this.#handle === null) {
      throw new GolabError('BPF_MODULE_DISPOSED', 'the BPF module was already disposed', {
        hint: 'compile the program again; a disposed module has no programs or maps',
        exitCode: ExitCode.usage,
      });
    }
    return this.#handle;
  }
}

/** Classifies a failed load by the verifier's words. */
function loadError(name: string, log: string): GolabError {
  const detail = tailLines(log, VERIFIER_LOG_LINES);
  const helper = /cannot use helper (\w+)/.exec(log) ?? /unknown func (\w+)/.exec(log);
  if (helper) {
    const mode = lockdownMode();
    const why = mode === 'none' || mode === 'unknown' ? 'this kernel refuses it' : `kernel lockdown=${mode} refuses it`;
    return new GolabError('BPF_HELPER_REFUSED', `the kernel refused program '${name}': it may not call ${helper[1]} (${why})`, {
      detail,
      hint: `run in a kernel that allows ${helper[1]} (lockdown=none), e.g. golab vm run --kernel 6.1 -- <the same command>; golab doctor shows what this kernel allows`,
      exitCode: ExitCode.kernelRefused,
    });
  }
  if (/invalid bpf_context access/.test(log)) {
    return new GolabError('BPF_CTX_WRITE_REFUSED', `the kernel refused program '${name}': uprobe programs may not write registers here`, {
      detail,
      hint: 'writing pt_regs from a uprobe needs a kernel with "bpf: Allow uprobe program to change context registers" (mainline 6.18); run in one, e.g. golab vm run --kernel 7',
      exitCode: ExitCode.kernelRefused,
    });
  }
  return new GolabError('BPF_VERIFIER_REJECTED', `the BPF verifier rejected program '${name}'`, {
    detail,
    hint: 'the end of the verifier log above says which instruction failed; generated programs failing here are a golab bug',
    exitCode: ExitCode.kernelRefused,
  });
}

/** Drops BCC's noisy header warnings when there are real errors to show. */
function onlyDiagnostics(output: string): string {
  const lines = output.split('\n');
  const errors = lines.filter((l) => /error:/.test(l));
  if (errors.length === 0) return output;
  const keep: string[] = [];
  lines.forEach((line, i) => {
    if (/error:/.test(line)) keep.push(line, ...lines.slice(i + 1, i + 3).filter((l) => !/(warning|note):/.test(l)));
  });
  return keep.join('\n');
}

function cString(buffer: Buffer): string {
  const end = buffer.indexOf(0);
  return buffer.toString('utf8', 0, end < 0 ? buffer.length : end);
}
