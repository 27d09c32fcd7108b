"""S3 upload bodies in the local cloud's emulator: how much memory they take while they are
served and after. Concurrent PutObjects of one size against three emulators: moto as shipped
(FLIGHTDECK_EMULATOR_UNPATCHED=1), the launcher's fixes without the in-flight bound
(FLIGHTDECK_EMULATOR_MAX_INFLIGHT_BYTES=0) and the launcher as the local cloud runs it (bodies
freed with their answer, at most 256 MiB of bodies in flight). The emulator's RSS is sampled
every 10 ms; its RSS a second after the last answer shows what the bodies left behind.

Requests are plain HTTP with an unsigned payload and a SigV4-shaped Authorization header (moto
does not check signatures), so the client adds no copies or checksums of its own. Each
emulator gets the malloc settings the local cloud gives it (infra/local/src/emulator.rs).

Usage: emulator_bodies.py LAUNCHER.py   (run with the emulator's own Python). Prints one JSON
line per (emulator, scenario).
"""

import http.client
import json
import os
import sys
import threading
import time

from emulator_bench import MALLOC, cpu_s, rss_mb, start_emulator

AUTH = (
    "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host, Signature=0"
)
# (name, concurrent PUTs, MiB each, times in a row)
SCENARIOS = [
    ("10 x 100 MiB at once", 10, 100, 1),
    ("20 x 4 MiB at once, 5 times", 20, 4, 5),
]
VARIANTS = [
    ("moto as shipped", {"FLIGHTDECK_EMULATOR_UNPATCHED": "1"}),
    ("fixes, no in-flight bound", {"FLIGHTDECK_EMULATOR_MAX_INFLIGHT_BYTES": "0"}),
    ("fixes as the local cloud runs them", {}),
]


def put(port, path, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    c.request(
        "PUT",
        path,
        body=body,
        headers={"Authorization": AUTH, "x-amz-content-sha256": "UNSIGNED-PAYLOAD"},
    )
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


def run(launcher, variant, env, scenario):
    name, count, mib, times = scenario
    proc, clients = start_emulator(launcher, **MALLOC, **env)
    port = int(clients("s3").meta.endpoint_url.rsplit(":", 1)[1])
    clients("s3").create_bucket(Bucket="bench")
    body = os.urandom(mib << 20)
    idle = rss_mb(proc.pid)
    peak, stop = [idle], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mb(proc.pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    statuses = []
    cpu0, t0 = cpu_s(proc.pid), time.perf_counter()
    for n in range(times):
        workers = [
            threading.Thread(
                target=lambda i=i: statuses.append(put(port, f"/bench/k{n}-{i}", body))
            )
            for i in range(count)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    wall, cpu = time.perf_counter() - t0, cpu_s(proc.pid) - cpu0
    time.sleep(1)
    stop.set()
    sampler.join()
    after = rss_mb(proc.pid)
    proc.terminate()
    proc.wait()
    puts = count * times
    return {
        "emulator": variant,
        "scenario": name,
        "in_flight_mib": count * mib,
        "ok": statuses.count(200),
        "puts": puts,
        "other": sorted({s for s in statuses if s != 200}),
        "wall_s": round(wall, 2),
        "cpu_ms_per_put": round(cpu * 1000 / puts, 1),
        "idle_rss_mb": idle,
        "peak_rss_mb": peak[0],
        "rss_after_mb": after,
    }


def main():
    launcher = sys.argv[1]
    for scenario in SCENARIOS:
        for variant, env in VARIANTS:
            print(json.dumps(run(launcher, variant, env, scenario)), flush=True)


if __name__ == "__main__":
    main()
