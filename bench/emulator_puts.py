"""The emulator's CPU per request for two launchers, trial by trial: PutObject of a 4 MiB
upload (WORKLOAD.md's in4.mp4 when present, else random bytes) and SendMessage, each at
concurrency 5 with boto3 (payload signed, as the SDKs send it over plain HTTP), after a warm-up
of 20 requests. Each trial starts a fresh emulator; the launchers take turns, so load from
other processes hits both alike. Every trial reads one object back and checks its bytes and
its ETag (the MD5 of the body).

Usage: emulator_puts.py BASE_LAUNCHER.py NEW_LAUNCHER.py TRIALS   (run with the emulator's own
Python). Prints one JSON line per trial.
"""

import hashlib
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from emulator_bench import MALLOC, cpu_s, start_emulator

CONCURRENCY = 5
PUTS = 150
SENDS = 300
INPUT = os.path.expanduser("~/.cache/flightdeck/bench/in4.mp4")


def measured(pid, n, call):
    """Emulator CPU ms per request and requests per second for `n` calls of `call(i)`."""
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(call, range(-20, 0)))
    cpu0, t0 = cpu_s(pid), time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        out = list(pool.map(call, range(n)))
    wall, cpu = time.perf_counter() - t0, cpu_s(pid) - cpu0
    return round(cpu * 1000 / n, 1), round(n / wall, 1), out


def trial(launcher, name, body):
    proc, clients = start_emulator(launcher, **MALLOC)
    s3, sqs = clients("s3"), clients("sqs")
    s3.create_bucket(Bucket="bench")
    queue = sqs.create_queue(QueueName="bench")["QueueUrl"]
    message = json.dumps({"v": 1, "video_id": "0" * 36, "source": "s3://bench/uploads/x.mp4"})
    put_ms, put_rps, puts = measured(
        proc.pid, PUTS, lambda i: s3.put_object(Bucket="bench", Key=f"k{i}", Body=body)
    )
    send_ms, send_rps, _ = measured(
        proc.pid, SENDS, lambda i: sqs.send_message(QueueUrl=queue, MessageBody=message)
    )
    back = s3.get_object(Bucket="bench", Key="k7")["Body"].read()
    intact = back == body and puts[7]["ETag"].strip('"') == hashlib.md5(body).hexdigest()
    proc.terminate()
    proc.wait()
    return {
        "launcher": name,
        "put_mib": round(len(body) / 2**20, 2),
        "put_cpu_ms": put_ms,
        "put_per_s": put_rps,
        "send_cpu_ms": send_ms,
        "send_per_s": send_rps,
        "intact": intact,
    }


def main():
    base, new, trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
    body = open(INPUT, "rb").read() if os.path.exists(INPUT) else os.urandom(4 << 20)
    for _ in range(trials):
        for launcher, name in ((base, "base"), (new, "new")):
            print(json.dumps(trial(launcher, name, body)), flush=True)


if __name__ == "__main__":
    main()
