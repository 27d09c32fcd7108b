"""CloudWatch Logs in the local cloud's emulator as the fleet's log shipper uses it: batches
of PutLogEvents (1,000 JSON lines of about 200 bytes, as the API and workers write them) into
one log group, and, after every STEP events, the emulator's RSS and the wall time and emulator
CPU of one FilterLogEvents over the last minute, limit 100 (what the console's log view
asks). Against two launchers: the one at a base revision and the working tree's (its
log-events-bound keeps at most FLIGHTDECK_EMULATOR_LOG_EVENTS events per group).

Usage: emulator_logs.py BASE_LAUNCHER.py NEW_LAUNCHER.py EVENTS STEP   (run with the
emulator's own Python). Prints one JSON line per launcher and checkpoint.
"""

import json
import sys
import time

from emulator_bench import MALLOC, cpu_s, rss_mb, start_emulator

BATCH = 1_000
LINE = json.dumps(
    {
        "timestamp": "2026-12-06T00:00:00.000000Z",
        "level": "INFO",
        "fields": {"message": "job done", "video_id": "0" * 36, "ms": 1234},
        "target": "worker::consumer",
    }
)


def run(launcher, name, events, step):
    proc, clients = start_emulator(launcher, **MALLOC)
    logs = clients("logs")
    group = "/bench/worker"
    logs.create_log_group(logGroupName=group)
    logs.put_retention_policy(logGroupName=group, retentionInDays=14)
    for s in range(4):
        logs.create_log_stream(logGroupName=group, logStreamName=f"i-{s:017x}")
    sent = 0
    while sent < events:
        now = int(time.time() * 1000)
        batch = [{"timestamp": now, "message": LINE} for _ in range(BATCH)]
        stream = f"i-{(sent // BATCH) % 4:017x}"
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
        sent += BATCH
        if sent % step == 0:
            cpu0, t0 = cpu_s(proc.pid), time.perf_counter()
            found = logs.filter_log_events(
                logGroupName=group, startTime=now - 60_000, limit=100
            )["events"]
            wall, cpu = time.perf_counter() - t0, cpu_s(proc.pid) - cpu0
            print(
                json.dumps(
                    {
                        "launcher": name,
                        "events_sent": sent,
                        "emulator_rss_mb": rss_mb(proc.pid),
                        "filter_ms": round(wall * 1000, 1),
                        "filter_cpu_ms": round(cpu * 1000, 1),
                        "filter_found": len(found),
                    }
                ),
                flush=True,
            )
    proc.terminate()
    proc.wait()


def main():
    base, new, events, step = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    for launcher, name in ((base, "base"), (new, "new")):
        run(launcher, name, events, step)


if __name__ == "__main__":
    main()
