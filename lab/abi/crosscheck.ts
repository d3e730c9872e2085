/**
 * Comparison of computed layouts with the locations a compiler wrote into DWARF, in one
 * notation both can be rendered to. Used by crosscheck.test.ts; kept out of the test file so
 * the notation is documented and reusable (e.g. by a `golab` diagnostic).
 *
 * Notation, one string per contiguous part, in value order:
 *   `ax:8`     8 bytes in RAX (pt_regs spelling)       `ax@1:1`  1 byte at byte 1 of RAX
 *   `x0:4`     4 bytes in X0                           `sp+8:16` 16 bytes at entry SP + 8
 *   `ind+8:4`  4 bytes at hidden result pointer + 8    `*di+0:16` 16 bytes the pointer in RDI points at
 * Adjacent stack parts merge (`sp+8:8 sp+16:8` → `sp+8:16`), because DWARF splits a stacked
 * string into its words while the layout keeps it whole.
 */
import type { DwarfLocation, DwarfPiece } from '../elf/dwarf.ts';
import type { Piece, ValueLocation } from './layout.ts';

/** One rendered part: its text, and for stack parts the numbers needed to merge them. */
interface Part {
  text: string;
  stack?: { offset: number; size: number };
}

const DWARF_TO_PT_REGS: Readonly<Record<string, string>> = {
  rax: 'ax', rbx: 'bx', rcx: 'cx', rdx: 'dx', rsi: 'si', rdi: 'di', rbp: 'bp', rsp: 'sp',
};

function stackPart(offset: number, size: number): Part {
  return { text: `sp${offset >= 0 ? '+' : ''}${offset}:${size}`, stack: { offset, size } };
}

function merge(parts: Part[]): string[] {
  const out: Part[] = [];
  // Zero-size parts carry no bytes (DWARF gives zero-size parameters an address, gc none).
  for (const part of parts.filter((p) => p.stack === undefined || p.stack.size > 0)) {
    const last = out[out.length - 1];
    if (last?.stack !== undefined && part.stack !== undefined && last.stack.offset + last.stack.size === part.stack.offset) {
      out[out.length - 1] = stackPart(last.stack.offset, last.stack.size + part.stack.size);
    } else {
      out.push(part);
    }
  }
  return out.map((part) => part.text);
}

/** Renders a computed location's pieces. */
export function renderPieces(pieces: readonly Piece[]): string[] {
  return merge(
    pieces.map((piece): Part => {
      switch (piece.where) {
        case 'stack':
          return stackPart(piece.offset, piece.size);
        case 'reg':
          return { text: `${piece.reg}${piece.regOffset ? `@${piece.regOffset}` : ''}:${piece.size}` };
        case 'xmm':
          return { text: `x${piece.index}${piece.regOffset ? `@${piece.regOffset}` : ''}:${piece.size}` };
        case 'indirect':
          return { text: `ind+${piece.offset}:${piece.size}` };
        case 'deref':
          return { text: `*${piece.reg}+${piece.offset}:${piece.size}` };
      }
    }),
  );
}

/** Renders a computed value. */
export function renderValue(value: ValueLocation): string[] {
  return renderPieces(value.pieces);
}

/**
 * Renders DWARF pieces as they are at the function's entry, where the CFA (and Go's frame
 * base, DW_OP_call_frame_cfa) is entry SP + 8. A piece without a size is the whole value.
 */
export function renderDwarfPieces(pieces: readonly DwarfPiece[], valueSize: number): string[] {
  return merge(
    pieces.flatMap((piece): Part[] => {
      const size = piece.size ?? valueSize;
      switch (piece.kind) {
        case 'reg': {
          const name = DWARF_TO_PT_REGS[piece.register] ?? piece.register;
          return [{ text: `${name.startsWith('xmm') ? `x${name.slice(3)}` : name}:${size}` }];
        }
        case 'fbreg':
          return [stackPart(8 + piece.offset, size)];
        case 'stack':
          return [stackPart(8 + piece.cfaOffset, size)];
        case 'breg':
          return piece.register === 'rsp' ? [stackPart(piece.offset, size)] : [{ text: `[${piece.register}${piece.offset >= 0 ? '+' : ''}${piece.offset}]:${size}` }];
        case 'empty':
          return [];
        default:
          return [{ text: `?${piece.kind}:${size}` }];
      }
    }),
  );
}

/** The DWARF pieces that hold at `pc`: the whole expression, or the list range containing it. */
export function dwarfPiecesAt(location: DwarfLocation | undefined, pc: number): readonly DwarfPiece[] | undefined {
  if (location === undefined) return undefined;
  if (location.kind === 'expr') return location.pieces;
  return location.ranges.find((range) => range.lowPc <= pc && pc < range.highPc)?.pieces;
}

/** The first non-empty DWARF pieces anywhere in the function (for fixed stack homes). */
export function dwarfPiecesAnywhere(location: DwarfLocation | undefined): readonly DwarfPiece[] | undefined {
  if (location === undefined) return undefined;
  if (location.kind === 'expr') return location.pieces;
  return location.ranges.find((range) => range.pieces.length > 0)?.pieces;
}
