#!/usr/bin/python3
"""The same BPF program golab generates, consumed by BCC's Python binding, for bench/.

Compiles the C text, attaches each probe function to SYMBOL+OFFSET of the binary, opens the
events table as BCC's own tools do (a ring buffer polled with ring_buffer_poll, or perf
buffers with one wakeup per event, BCC's default) and, for each event, copies it out and
unpacks the 56-byte header and the first 8-byte value, as a small Python tracer would.

Protocol with bench/paths.ts: prints "ready" once attached, then consumes until SIGTERM,
drains what is left, and prints one JSON line: events seen, lost events, the sum of the
return probes' first values (the tracee's checksum), and this process's CPU time from
"ready" to the end (resource.getrusage, user and system).
"""
import argparse
import ctypes as ct
import json
import resource
import signal
import struct
import sys

from bcc import BPF

HEADER = struct.Struct("<IIIIQQQQQ")  # probe id, tid, pid, reserved, ktime, sp, ip, r14, errors
VALUE = struct.Struct("<q")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--program", required=True, help="file with the C text")
    parser.add_argument("--binary", required=True)
    parser.add_argument("--probe", action="append", default=[], help="C_FUNCTION:SYMBOL:OFFSET")
    parser.add_argument("--return-id", action="append", type=int, default=[], help="probe ids of RET probes")
    parser.add_argument("--table", default="golab_events")
    parser.add_argument("--lost-table", default="golab_lost")
    parser.add_argument("--transport", choices=["ring", "perf"], default="ring")
    args = parser.parse_args()

    with open(args.program) as f:
        text = f.read()
    b = BPF(text=text)
    for spec in args.probe:
        fn_name, sym, offset = spec.split(":")
        b.attach_uprobe(name=args.binary, sym=sym, sym_off=int(offset), fn_name=fn_name)

    returns = set(args.return_id)
    seen = {"events": 0, "checksum": 0, "perf_lost": 0}

    def on_event(*cb_args):
        # ring: (ctx, data, size); perf: (cpu, data, size)
        data, size = cb_args[1], cb_args[2]
        raw = ct.string_at(data, size)
        header = HEADER.unpack_from(raw, 0)
        seen["events"] += 1
        if header[0] in returns:
            seen["checksum"] += VALUE.unpack_from(raw, HEADER.size)[0]

    def on_lost(count):
        seen["perf_lost"] += count

    if args.transport == "ring":
        b[args.table].open_ring_buffer(on_event)
        poll = b.ring_buffer_poll
        drain = b.ring_buffer_consume
    else:
        b[args.table].open_perf_buffer(on_event, page_cnt=256, lost_cb=on_lost)
        poll = b.perf_buffer_poll
        drain = b.perf_buffer_consume

    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    start = resource.getrusage(resource.RUSAGE_SELF)
    print("ready", flush=True)
    while not stop["now"]:
        poll(100)
    drain()
    end = resource.getrusage(resource.RUSAGE_SELF)
    # The probes count failed submits; perf lost records can only be fewer: take the larger.
    lost = max(b[args.lost_table][ct.c_int(0)].value, seen["perf_lost"])
    print(json.dumps({
        "events": seen["events"],
        "lost": lost,
        "checksum": seen["checksum"],
        "cpuUserS": end.ru_utime - start.ru_utime,
        "cpuSystemS": end.ru_stime - start.ru_stime,
    }), flush=True)


if __name__ == "__main__":
    sys.exit(main())
