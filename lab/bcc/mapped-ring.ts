/**
 * Reads a BPF ring buffer straight from its memory mapping, in JavaScript.
 *
 * libbcc's `bpf_consume_ringbuf` calls back into JavaScript once per record, and each koffi
 * callback costs more than the rest of the event path together (≈0.75 µs of the ≈2.6 µs the
 * reader spent per event). The ring's layout is kernel ABI (kernel/bpf/ringbuf.c), the same
 * that libbpf and cilium/ebpf read directly:
 *
 * - offset 0 of the map fd: one page holding the consumer position, which the reader writes;
 * - offset `pageSize`: one page holding the producer position, then the data area mapped twice
 *   in a row, so a record that wraps around the end is contiguous in memory;
 * - each record: an 8-byte header (u32 length with a BUSY and a DISCARD bit, u32 page offset),
 *   then the payload, padded to 8 bytes.
 *
 * Positions are read and written with `Atomics` on the mapping (acquire/release as in libbpf's
 * `ringbuf_process_ring`); x86-64's ordering makes those plain loads and stores.
 */
import koffi from 'koffi';
import { ExitCode, GolabError } from '../errors.ts';
import { bpf, errno, strerror } from './libc.ts';

const libc = koffi.load('libc.so.6');
const mmap = libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset)') as (
  addr: null,
  length: number,
  prot: number,
  flags: number,
  fd: number,
  offset: number,
) => bigint | null;
const munmap = libc.func('int munmap(void *addr, size_t length)') as (addr: bigint, length: number) => number;
const sysconf = libc.func('long sysconf(int name)') as (name: number) => number;

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const MAP_FAILED = 0xffff_ffff_ffff_ffffn;
const SC_PAGESIZE = 30;
const BPF_OBJ_GET_INFO_BY_FD = 15;
const BPF_MAP_TYPE_RINGBUF = 27;

/** Record header bits (BPF_RINGBUF_BUSY_BIT, BPF_RINGBUF_DISCARD_BIT). */
const BUSY = 0x8000_0000;
const DISCARD = 0x4000_0000;
const HEADER_SIZE = 8;
const LENGTH_MASK = 0x3fff_ffff;

/** Type and size of a BPF map, from BPF_OBJ_GET_INFO_BY_FD. */
export interface MapInfo {
  readonly type: number;
  readonly maxEntries: number;
}

/** Asks the kernel what map `fd` is. */
export function mapInfo(fd: number): MapInfo {
  // struct bpf_map_info starts: type, id, key_size, value_size, max_entries (u32 each).
  const info = Buffer.alloc(80);
  // attr.info: bpf_fd (u32), info_len (u32), info (u64 pointer).
  const attr = Buffer.alloc(16);
  attr.writeUInt32LE(fd, 0);
  attr.writeUInt32LE(info.length, 4);
  attr.writeBigUInt64LE(koffi.address(info), 8);
  if (bpf(BPF_OBJ_GET_INFO_BY_FD, attr) !== 0) {
    const code = errno();
    throw new GolabError('RING_BUFFER_FAILED', `BPF_OBJ_GET_INFO_BY_FD on map fd ${fd} failed: ${strerror(code)}`, {
      hint: 'the map fd must come from BpfModule.tableFd of a loaded module',
      exitCode: ExitCode.environment,
    });
  }
  return { type: info.readUInt32LE(0), maxEntries: info.readUInt32LE(16) };
}

/**
 * Called with each record: its payload is `area[offset, offset + length)`, valid only during
 * the call. (A subarray per record would cost an allocation the handler may not need.)
 */
export type RecordHandler = (area: Buffer, offset: number, length: number) => void;

/** A ring buffer map, mapped into this process and read without libbcc. */
export class MappedRing {
  readonly #consumerAddress: bigint;
  readonly #producerAddress: bigint;
  readonly #pageSize: number;
  readonly #dataSize: number;
  /** consumer_pos at index 0. */
  readonly #consumer: BigInt64Array;
  /** producer_pos at index 0. */
  readonly #producer: BigInt64Array;
  /** The data area, twice. */
  readonly #data: Buffer;
  #unmapped = false;

  private constructor(consumer: bigint, producer: bigint, pageSize: number, dataSize: number) {
    this.#consumerAddress = consumer;
    this.#producerAddress = producer;
    this.#pageSize = pageSize;
    this.#dataSize = dataSize;
    // koffi.view makes one external ArrayBuffer per mapping, once; per record there is only a
    // subarray of it.
    this.#consumer = new BigInt64Array(koffi.view(consumer, pageSize), 0, 1);
    const producerArea = koffi.view(producer, pageSize + 2 * dataSize);
    this.#producer = new BigInt64Array(producerArea, 0, 1);
    this.#data = Buffer.from(producerArea, pageSize, 2 * dataSize);
  }

  /**
   * Maps the ring buffer map `fd`. Throws `RING_BUFFER_FAILED` when `fd` is not a ring buffer or
   * the kernel refuses the mapping.
   */
  static map(fd: number): MappedRing {
    const { type, maxEntries } = mapInfo(fd);
    if (type !== BPF_MAP_TYPE_RINGBUF) {
      throw new GolabError('RING_BUFFER_FAILED', `map fd ${fd} is a BPF map of type ${type}, not a ring buffer (${BPF_MAP_TYPE_RINGBUF})`, {
        hint: 'declare the table with BPF_RINGBUF_OUTPUT',
        exitCode: ExitCode.usage,
      });
    }
    const pageSize = sysconf(SC_PAGESIZE);
    const consumer = mapOrThrow(pageSize, PROT_READ | PROT_WRITE, fd, 0);
    let producer: bigint;
    try {
      producer = mapOrThrow(pageSize + 2 * maxEntries, PROT_READ, fd, pageSize);
    } catch (error) {
      munmap(consumer, pageSize);
      throw error;
    }
    return new MappedRing(consumer, producer, pageSize, maxEntries);
  }

  /** Size of the data area in bytes. */
  get size(): number {
    return this.#dataSize;
  }

  /**
   * Hands every committed record to `onRecord`, in order, and releases their space to the
   * kernel. Stops at a record still being written (BUSY). Returns the number of records read
   * (discarded ones not counted).
   */
  consume(onRecord: RecordHandler): number {
    if (this.#unmapped) return 0;
    // Positions are u64 byte counts that never wrap; as Numbers they are exact up to 2^53 bytes
    // (8 PiB) of events, and Number arithmetic allocates nothing per record.
    let consumerPos = Number(Atomics.load(this.#consumer, 0));
    let records = 0;
    for (;;) {
      const producerPos = Number(Atomics.load(this.#producer, 0));
      if (consumerPos >= producerPos) break;
      while (consumerPos < producerPos) {
        // The data area's size is a power of two, so the low bits are the offset in it.
        const offset = consumerPos % this.#dataSize;
        const header = this.#data.readUInt32LE(offset);
        if ((header & BUSY) !== 0) {
          Atomics.store(this.#consumer, 0, BigInt(consumerPos));
          return records;
        }
        const length = header & LENGTH_MASK;
        if ((header & DISCARD) === 0) {
          onRecord(this.#data, offset + HEADER_SIZE, length);
          records++;
        }
        consumerPos += (length + HEADER_SIZE + 7) & ~7;
      }
      // Release the space before looking for more, so the producer can reuse it.
      Atomics.store(this.#consumer, 0, BigInt(consumerPos));
    }
    return records;
  }

  /** Unmaps the ring. Idempotent; `consume` reads nothing afterwards. */
  unmap(): void {
    if (this.#unmapped) return;
    this.#unmapped = true;
    munmap(this.#producerAddress, this.#pageSize + 2 * this.#dataSize);
    munmap(this.#consumerAddress, this.#pageSize);
  }
}

function mapOrThrow(length: number, prot: number, fd: number, offset: number): bigint {
  const address = mmap(null, length, prot, MAP_SHARED, fd, offset);
  if (address === null || address === MAP_FAILED || address === 0n) {
    const code = errno();
    throw new GolabError('RING_BUFFER_FAILED', `mmap of ring buffer fd ${fd} (offset ${offset}, ${length} bytes) failed: ${strerror(code)}`, {
      hint: 'ring buffers need Linux 5.8 or later; check RLIMIT_MEMLOCK and the map size',
      exitCode: ExitCode.kernelRefused,
    });
  }
  return address;
}
