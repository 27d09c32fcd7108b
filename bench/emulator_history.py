"""What the local cloud's emulator accumulates over a long run, and what it costs: sends
EVENTS records as the local cloud's programs send them and, after every STEP, reads the
emulator's RSS and one query's wall time and emulator CPU. Against two launchers: the one at a
base revision and the working tree's. KIND is one of:

- logs: PutLogEvents of 1,000 JSON lines of about 200 bytes into 4 streams of one group, as
  the fleet's log shipper sends the API's and workers' lines; the query is FilterLogEvents
  over the last minute, limit 100 (what the console's log view asks).
- metrics: PutMetricData of 20 CPUUtilization datums (one per instance, as the local CPU
  publisher sends them), timestamped now: as many datums as a long run leaves, within the
  age bound, so what shows is the count bound; the query is GetMetricData for one instance
  over the last hour, period 60 (a console chart's read).

Usage: emulator_history.py KIND BASE_LAUNCHER.py NEW_LAUNCHER.py EVENTS STEP   (run with the
emulator's own Python). Prints one JSON line per launcher and checkpoint.
"""

import datetime
import json
import sys
import time

from emulator_bench import MALLOC, cpu_s, rss_mb, start_emulator

LINE = json.dumps(
    {
        "timestamp": "2026-12-06T00:00:00.000000Z",
        "level": "INFO",
        "fields": {"message": "job done", "video_id": "0" * 36, "ms": 1234},
        "target": "worker::consumer",
    }
)
INSTANCES = 20


def logs_run(clients):
    logs = clients("logs")
    group = "/bench/worker"
    logs.create_log_group(logGroupName=group)
    logs.put_retention_policy(logGroupName=group, retentionInDays=14)
    for s in range(4):
        logs.create_log_stream(logGroupName=group, logStreamName=f"i-{s:017x}")

    def send(sent):
        now = int(time.time() * 1000)
        batch = [{"timestamp": now, "message": LINE} for _ in range(1_000)]
        stream = f"i-{(sent // 1_000) % 4:017x}"
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
        return len(batch)

    def query():
        now = int(time.time() * 1000)
        return len(
            logs.filter_log_events(logGroupName=group, startTime=now - 60_000, limit=100)[
                "events"
            ]
        )

    return send, query


def metrics_run(clients):
    cw = clients("cloudwatch")

    def send(_sent):
        at = datetime.datetime.now(datetime.timezone.utc)
        cw.put_metric_data(
            Namespace="AWS/EC2",
            MetricData=[
                {
                    "MetricName": "CPUUtilization",
                    "Dimensions": [{"Name": "InstanceId", "Value": f"i-{i:017x}"}],
                    "Timestamp": at,
                    "Value": float(i),
                    "Unit": "Percent",
                }
                for i in range(INSTANCES)
            ],
        )
        return INSTANCES

    def query():
        now = datetime.datetime.now(datetime.timezone.utc)
        answer = cw.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "cpu",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/EC2",
                            "MetricName": "CPUUtilization",
                            "Dimensions": [{"Name": "InstanceId", "Value": f"i-{0:017x}"}],
                        },
                        "Period": 60,
                        "Stat": "Average",
                    },
                }
            ],
            StartTime=now - datetime.timedelta(hours=1),
            EndTime=now + datetime.timedelta(minutes=1),
        )
        return len(answer["MetricDataResults"][0]["Values"])

    return send, query


def run(kind, launcher, name, events, step):
    proc, clients = start_emulator(launcher, **MALLOC)
    send, query = {"logs": logs_run, "metrics": metrics_run}[kind](clients)
    sent, checked = 0, 0
    while sent < events:
        sent += send(sent)
        if sent - checked >= step:
            checked = sent
            cpu0, t0 = cpu_s(proc.pid), time.perf_counter()
            found = query()
            wall, cpu = time.perf_counter() - t0, cpu_s(proc.pid) - cpu0
            record = {
                "kind": kind,
                "launcher": name,
                "sent": sent,
                "emulator_rss_mb": rss_mb(proc.pid),
                "query_ms": round(wall * 1000, 1),
                "query_cpu_ms": round(cpu * 1000, 1),
                "found": found,
            }
            print(json.dumps(record), flush=True)
    proc.terminate()
    proc.wait()


def main():
    kind, base, new = sys.argv[1], sys.argv[2], sys.argv[3]
    events, step = int(sys.argv[4]), int(sys.argv[5])
    for launcher, name in ((base, "base"), (new, "new")):
        run(kind, launcher, name, events, step)


if __name__ == "__main__":
    main()
