/**
 * `.go.buildinfo`: the Go version and module information the gc linker embeds in every
 * binary. Two encodings exist: before Go 1.18 the blob holds pointers to Go string headers;
 * from Go 1.18 (flag bit 2) it holds the two strings inline, each prefixed by a uvarint length.
 */
import { ByteReader } from './bytes.ts';
import { ElfErrorCode, elfError } from './errors.ts';
import { type ElfFile, PF, PT } from './file.ts';

/** What `.go.buildinfo` says about a binary. */
export interface GoBuildInfo {
  /** `runtime.buildVersion`, e.g. `go1.15.15` (may carry experiments: `go1.23.0 X:boringcrypto`). */
  readonly goVersion: string;
  /** `runtime.modinfo` without its 16-byte sentinels (empty for GOPATH builds). */
  readonly modinfo: string;
  /** Pointer format (before Go 1.18) or inline format (Go 1.18 and later). */
  readonly format: 'pointer' | 'inline';
  /** Pointer size recorded in the header (8 on amd64). */
  readonly pointerSize: number;
}

const magic = Buffer.from('\xff Go buildinf:', 'latin1');
/** The linker puts the blob at the start; Go's own reader searches this far. */
const searchLimit = 64 * 1024;
/** Longest version or modinfo string accepted. */
const maxStringLength = 1 << 20;

/**
 * Reads the Go version and module info from `.go.buildinfo`, or from the first writable,
 * non-executable PT_LOAD segment when the section header is missing.
 * @throws GolabError GO_NO_BUILDINFO when there is no blob (not gc-built), or it does not decode.
 */
export function readBuildInfo(elf: ElfFile): GoBuildInfo {
  const blob = findBlob(elf);
  if (!blob) {
    throw elfError(ElfErrorCode.noBuildInfo, `${elf.path}: no Go build information (.go.buildinfo)`, 'Use a binary built by the gc Go toolchain (go build); gccgo and non-Go binaries carry none.');
  }
  const r = new ByteReader(blob, ElfErrorCode.noBuildInfo, `${elf.path}: .go.buildinfo`);
  const pointerSize = r.u8(14);
  const flags = r.u8(15);
  if (pointerSize !== 4 && pointerSize !== 8) r.fail(`pointer size ${pointerSize}`);
  if (flags & 1) r.fail('big-endian build information on an x86-64 binary');
  let goVersion: string;
  let modinfo: string;
  let format: GoBuildInfo['format'];
  if (flags & 2) {
    format = 'inline';
    r.pos = 32;
    goVersion = inlineString(r);
    modinfo = inlineString(r);
  } else {
    format = 'pointer';
    goVersion = pointerString(elf, r.uptr(pointerSize, 16), pointerSize);
    modinfo = pointerString(elf, r.uptr(pointerSize, 16 + pointerSize), pointerSize);
  }
  if (!goVersion.startsWith('go') && !goVersion.startsWith('devel')) {
    r.fail(`version string ${JSON.stringify(goVersion.slice(0, 40))} does not look like a Go version`);
  }
  // The linker wraps modinfo in 16-byte sentinels; strip them as Go's reader does.
  if (modinfo.length >= 33 && modinfo[modinfo.length - 17] === '\n') modinfo = modinfo.slice(16, -16);
  return { goVersion, modinfo, format, pointerSize };
}

/** The 32-byte-header blob: from the section, else from the first RW, non-X PT_LOAD. */
function findBlob(elf: ElfFile): Buffer | undefined {
  const section = elf.section('.go.buildinfo');
  let region: Buffer | undefined;
  if (section) region = elf.sectionData(section);
  else {
    const seg = elf.segments.find((s) => s.type === PT.load && (s.flags & (PF.w | PF.x)) === PF.w);
    if (seg) region = elf.fileRange(seg.offset, Math.min(seg.filesz, searchLimit + 32), 'writable segment');
  }
  if (!region) return undefined;
  // The blob is 16-byte aligned within the first 64 KiB.
  for (let at = 0; at + 32 <= region.length && at < searchLimit; at += 16) {
    if (region.compare(magic, 0, magic.length, at, at + magic.length) === 0) return region.subarray(at);
  }
  return undefined;
}

function inlineString(r: ByteReader): string {
  const length = r.uleb();
  if (length > maxStringLength) r.fail(`string length ${length}`);
  return r.bytes(length).toString('utf8');
}

/** Follows a pointer to a Go string header {data, len} and reads the string. */
function pointerString(elf: ElfFile, headerAddr: number, pointerSize: number): string {
  const wrap = <T>(read: () => T): T => {
    try {
      return read();
    } catch (error) {
      throw elfError(ElfErrorCode.noBuildInfo, `${elf.path}: .go.buildinfo points at an unreadable string header (0x${headerAddr.toString(16)})`, 'The binary is damaged; rebuild it.', error instanceof Error ? error.message : undefined);
    }
  };
  return wrap(() => {
    if (pointerSize !== 8) throw new Error('32-bit pointers in an x86-64 binary');
    const dataAddr = elf.readPointer(headerAddr);
    const length = elf.readPointer(headerAddr + pointerSize);
    if (length > maxStringLength) throw new Error(`string length ${length}`);
    if (length === 0) return '';
    return elf.readVirtual(dataAddr, length).toString('utf8');
  });
}
