/** Symbol resolution through libbcc, for shared libraries (Go binaries go through lab/elf). */
import koffi from 'koffi';
import { ExitCode, GolabError } from '../errors.ts';
import { loadLibBcc, type LibBcc } from './library.ts';

/** A symbol's file and file offset, ready for a uprobe. */
export interface ResolvedSymbol {
  /** The resolved file, e.g. `/usr/lib/x86_64-linux-gnu/libc.so.6`. */
  readonly binaryPath: string;
  /** The file offset of the symbol (bcc returns file offsets for ET_EXEC and ET_DYN alike). */
  readonly fileOffset: number;
}

/**
 * Resolves `symbol` in `module` (a path, or a library name such as `c`) as bcc's Python
 * `attach_uprobe(name=…, sym=…)` does. Throws `SYMBOL_NOT_FOUND`.
 */
export function resolveSymbol(module: string, symbol: string, pid = 0, libbcc: LibBcc = loadLibBcc()): ResolvedSymbol {
  const sym = { name: null, demangle_name: null, module: null, offset: 0n } as Parameters<LibBcc['fn']['bcc_resolve_symname']>[5];
  const rc = libbcc.fn.bcc_resolve_symname(module, symbol, 0n, pid, null, sym);
  if (rc !== 0 || sym.module === null) {
    throw new GolabError('SYMBOL_NOT_FOUND', `cannot resolve ${symbol} in ${module}`, {
      hint: 'check the library name and that it exports the symbol (nm -D)',
      exitCode: ExitCode.usage,
    });
  }
  const binaryPath = koffi.decode(sym.module, 'char', -1) as string;
  libbcc.fn.bcc_procutils_free(sym.module);
  return { binaryPath, fileOffset: Number(sym.offset) };
}
