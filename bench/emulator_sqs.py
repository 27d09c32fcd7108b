"""The emulator's CPU per SQS call on a deep queue, for two launchers, trial by trial: a queue
of DEPTH messages, a third of them in flight, then GetQueueAttributes (the 8 attributes the
console reads for a queue row, `ops::queues::SNAPSHOT_ATTRIBUTES`) and ReceiveMessage (up to
10, no wait; what it got is deleted in one batch and sent again, so the depth holds), one
after another from one client. Each trial starts a fresh emulator; the
launchers take turns, so load from other processes hits both alike. Every trial checks the
counts the emulator answers.

Usage: emulator_sqs.py BASE_LAUNCHER.py NEW_LAUNCHER.py TRIALS [DEPTH]   (run with the
emulator's own Python). Prints one JSON line per trial.
"""

import json
import sys
import time

from emulator_bench import cpu_s, start_emulator

CALLS = 40  # each, or as many as fit in 20 s
# What the console asks for each queue row (console/ops/src/queues.rs).
SNAPSHOT_ATTRIBUTES = [
    "QueueArn",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
]


def measured(pid, n, call, budget_s=20):
    """Emulator CPU ms and wall ms per call for `n` calls of `call()`, or as many as fit in
    `budget_s` (at least 3)."""
    cpu0, t0 = cpu_s(pid), time.perf_counter()
    done = 0
    while done < n and (done < 3 or time.perf_counter() - t0 < budget_s):
        call()
        done += 1
    wall, cpu = time.perf_counter() - t0, cpu_s(pid) - cpu0
    return round(cpu * 1000 / done, 2), round(wall * 1000 / done, 2)


def trial(launcher, name, depth):
    proc, clients = start_emulator(launcher)
    try:
        sqs = clients("sqs")
        queue = sqs.create_queue(QueueName="bench")["QueueUrl"]
        for start in range(0, depth, 10):
            entries = [
                {"Id": str(i), "MessageBody": f"job {i}"}
                for i in range(start, min(start + 10, depth))
            ]
            sqs.send_message_batch(QueueUrl=queue, Entries=entries)
        in_flight = 0
        while in_flight < depth // 3:
            got = sqs.receive_message(
                QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=3600
            )
            in_flight += len(got.get("Messages", []))

        def counts():
            a = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=SNAPSHOT_ATTRIBUTES)[
                "Attributes"
            ]
            return (
                int(a["ApproximateNumberOfMessages"]),
                int(a["ApproximateNumberOfMessagesNotVisible"]),
            )

        def receive():
            got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            if got:
                sqs.delete_message_batch(
                    QueueUrl=queue,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)],
                )
                for m in got:
                    sqs.send_message(QueueUrl=queue, MessageBody=m["Body"])

        expected = (depth - in_flight, in_flight)
        answered = counts()
        attrs_cpu, attrs_wall = measured(proc.pid, CALLS, counts)
        receive_cpu, receive_wall = measured(proc.pid, CALLS, receive)
        return {
            "launcher": name,
            "depth": depth,
            "in_flight": in_flight,
            "attrs_cpu_ms": attrs_cpu,
            "attrs_wall_ms": attrs_wall,
            "receive_cpu_ms": receive_cpu,
            "receive_wall_ms": receive_wall,
            "counts_right": answered == expected and counts() == expected,
        }
    finally:
        proc.terminate()
        proc.wait()


def main():
    base, new, trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
    depth = int(sys.argv[4]) if len(sys.argv) > 4 else 3000
    for _ in range(trials):
        for launcher, name in ((base, "base"), (new, "new")):
            print(json.dumps(trial(launcher, name, depth)), flush=True)


if __name__ == "__main__":
    main()
