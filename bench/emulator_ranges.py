"""Ranged GetObject in the local cloud's emulator: the same reads against an emulator with the
launcher's fixes (its s3-range-read serves a range from the object's file) and one running
moto as shipped (FLIGHTDECK_EMULATOR_UNPATCHED=1: each range reads the whole object, then
slices it), in alternating rounds: wall time and the emulator's CPU time per GET.

The reads: a 50 MB object in 8 MiB ranges, as the worker downloads an upload; the same object
in one GET; an 8 MiB object in one GET (what an 8 MiB range should cost).

Usage: emulator_ranges.py LAUNCHER.py [ROUNDS]   (run with the emulator's own Python, which
has boto3). Prints one JSON line per (variant, read) with the median over the rounds.
"""

import json
import os
import statistics
import sys
import time

from emulator_bench import cpu_s, start_emulator

BIG = 50_000_000
RANGE = 8 * 1024 * 1024
# read: (key, in ranges, times read per round); enough GETs that the CPU clock's 10 ms ticks
# stay small against the total.
READS = {
    "50 MB object, 8 MiB ranges": ("big", True, 4),
    "50 MB object, one GET": ("big", False, 4),
    "8 MiB object, one GET": ("small", False, 20),
}


def start(launcher, unpatched, data):
    extra = {"FLIGHTDECK_EMULATOR_UNPATCHED": "1"} if unpatched else {}
    proc, clients = start_emulator(launcher, **extra)
    s3 = clients("s3")
    s3.create_bucket(Bucket="bench")
    s3.put_object(Bucket="bench", Key="big", Body=data)
    s3.put_object(Bucket="bench", Key="small", Body=data[:RANGE])
    return proc, s3


def one_round(proc, s3, data):
    out = {}
    for name, (key, ranged, times) in READS.items():
        size = len(data) if key == "big" else RANGE
        spans = [(a, min(a + RANGE, size) - 1) for a in range(0, size, RANGE)] if ranged else [None]
        gets, wall, cpu = 0, 0.0, 0.0
        for _ in range(times):
            got = bytearray()
            c0, t0 = cpu_s(proc.pid), time.perf_counter()
            for span in spans:
                kw = {"Range": f"bytes={span[0]}-{span[1]}"} if span else {}
                got += s3.get_object(Bucket="bench", Key=key, **kw)["Body"].read()
            wall, cpu = wall + time.perf_counter() - t0, cpu + cpu_s(proc.pid) - c0
            gets += len(spans)
            if bytes(got) != data[:size]:
                raise SystemExit(f"{name}: the bytes read differ from the object")
        out[name] = (gets, wall * 1000 / gets, cpu * 1000 / gets)
    return out


def main():
    launcher = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    data = os.urandom(BIG)
    variants = {
        "with the launcher's fixes": start(launcher, False, data),
        "moto as shipped": start(launcher, True, data),
    }
    results = {v: {r: [] for r in READS} for v in variants}
    try:
        for _ in range(rounds):
            for v, (proc, s3) in variants.items():
                for read, triple in one_round(proc, s3, data).items():
                    results[v][read].append(triple)
    finally:
        for proc, _ in variants.values():
            proc.kill()
    for v, reads in results.items():
        for read, triples in reads.items():
            print(json.dumps({
                "variant": v,
                "read": read,
                "gets": triples[0][0],
                "rounds": rounds,
                "wall_ms": round(statistics.median(t[1] for t in triples), 1),
                "wall_ms_min": round(min(t[1] for t in triples), 1),
                "wall_ms_max": round(max(t[1] for t in triples), 1),
                "cpu_ms": round(statistics.median(t[2] for t in triples), 1),
            }))


main()
