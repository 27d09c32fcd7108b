"""Connection reuse in the local cloud's emulator: the same calls against two emulators
started by flightdeck's launcher, one keeping connections open (the launcher's default) and
one closing each (FLIGHTDECK_EMULATOR_CLOSE_CONNECTIONS=1, werkzeug as shipped), in
alternating rounds: wall time per call and the emulator's CPU time per call.

Usage: emulator_connections.py LAUNCHER.py [ROUNDS]   (run with the emulator's own Python,
which has boto3). Prints one JSON line per (variant, call) with the median over the rounds.
"""

import json
import statistics
import sys
import time

from emulator_bench import cpu_s, start_emulator

CALLS = {"GetQueueAttributes": 300, "SendMessage": 200, "PutObject 64 KiB": 100}


def start(launcher, close):
    extra = {"FLIGHTDECK_EMULATOR_CLOSE_CONNECTIONS": "1"} if close else {}
    proc, clients = start_emulator(launcher, **extra)
    sqs, s3 = clients("sqs"), clients("s3")
    # A queue of a fixed depth to read, and a bucket.
    read_url = sqs.create_queue(QueueName="read")["QueueUrl"]
    for i in range(20):
        sqs.send_message(QueueUrl=read_url, MessageBody=f"m{i}")
    s3.create_bucket(Bucket="bench")
    return proc, sqs, s3, read_url


def one_round(proc, sqs, s3, read_url, n_round):
    # A new queue to send to each round (PurgeQueue is allowed once a minute), deleted after.
    send_url = sqs.create_queue(QueueName=f"send-{n_round}")["QueueUrl"]
    out = {}
    body = b"x" * 65536
    for name, n in CALLS.items():
        c0, t0 = cpu_s(proc.pid), time.perf_counter()
        for i in range(n):
            if name == "GetQueueAttributes":
                sqs.get_queue_attributes(QueueUrl=read_url, AttributeNames=["All"])
            elif name == "SendMessage":
                sqs.send_message(QueueUrl=send_url, MessageBody="m" * 1000)
            else:
                s3.put_object(Bucket="bench", Key=f"k{i}", Body=body)
        wall, cpu = time.perf_counter() - t0, cpu_s(proc.pid) - c0
        out[name] = (wall * 1000 / n, cpu * 1000 / n)
    sqs.delete_queue(QueueUrl=send_url)
    return out


def main():
    launcher = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    variants = {"kept open": start(launcher, False), "closed each call": start(launcher, True)}
    results = {v: {c: [] for c in CALLS} for v in variants}
    try:
        for n_round in range(rounds):
            for v, (proc, sqs, s3, read_url) in variants.items():
                for call, pair in one_round(proc, sqs, s3, read_url, n_round).items():
                    results[v][call].append(pair)
    finally:
        for proc, *_ in variants.values():
            proc.kill()
    for v, calls in results.items():
        for call, pairs in calls.items():
            print(json.dumps({
                "variant": v,
                "call": call,
                "n": CALLS[call],
                "rounds": rounds,
                "wall_ms": round(statistics.median(p[0] for p in pairs), 2),
                "wall_ms_min": round(min(p[0] for p in pairs), 2),
                "wall_ms_max": round(max(p[0] for p in pairs), 2),
                "cpu_ms": round(statistics.median(p[1] for p in pairs), 2),
            }))


main()
