"""The local cloud's emulator launcher, run as `python -c <this file> HOST PORT PARENT_PID`.

It exits when its parent (flightdeck) dies, applies the emulator fixes below, then runs moto's
own server entry point. Set FLIGHTDECK_EMULATOR_UNPATCHED=1 to run moto exactly as shipped
(the benchmarks use it to show what the fixes change).

Each fix keeps moto's behaviour and only removes a cost; each checks that the function it
replaces still exists with the expected signature, so a moto upgrade that changes it fails at
start-up with a message instead of silently running something else.
"""

import inspect
import os
import sys
import threading
import time

PATCHED_MOTO = "5.2.5"


def watch_parent(parent):
    while True:
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(0.5)


def fix_sqs_retention_check():
    """ReceiveMessage checks each returned message's retention with
    `get_queue_attributes(queue, ["MessageRetentionPeriod"])`, which builds every queue
    attribute three times, and each build counts the queue's messages three times: a cost per
    returned message that grows with the depth, so draining a queue costs O(depth^2). Reading the one attribute directly gives the same answer in O(1)."""
    from moto.sqs import models

    original = models.SQSBackend.is_message_valid_based_on_retention_period
    expected = ["self", "queue_name", "message"]
    if list(inspect.signature(original).parameters) != expected:
        raise SystemExit(
            "flightdeck: moto's SQSBackend.is_message_valid_based_on_retention_period changed "
            f"(flightdeck's fix was written for moto {PATCHED_MOTO}); "
            "run with FLIGHTDECK_EMULATOR_UNPATCHED=1 or update infra/local/src/launcher.py"
        )

    def is_message_valid_based_on_retention_period(self, queue_name, message):
        queue = self.get_queue(queue_name)
        retain_until = int(queue.message_retention_period) + message.sent_timestamp / 1000
        return retain_until > models.unix_time()

    models.SQSBackend.is_message_valid_based_on_retention_period = (
        is_message_valid_based_on_retention_period
    )


_sending = threading.local()


def fix_sqs_send_cost():
    """SendMessage reads the queue's ContentBasedDeduplication through `queue.attributes`
    (twice per message), and building those attributes counts every message in the queue three
    times. Nothing on the send path reads the counts, so while a message is being sent they
    are not computed (they read as 0 there); every other caller still gets them counted."""
    from moto.sqs import models

    counts = [
        "approximate_number_of_messages",
        "approximate_number_of_messages_not_visible",
        "approximate_number_of_messages_delayed",
    ]
    original_send = models.SQSBackend.send_message
    missing = [c for c in counts if not isinstance(getattr(models.Queue, c, None), property)]
    if missing or "queue_name" not in inspect.signature(original_send).parameters:
        raise SystemExit(
            "flightdeck: moto's SQS send path changed "
            f"(flightdeck's fix was written for moto {PATCHED_MOTO}); "
            "run with FLIGHTDECK_EMULATOR_UNPATCHED=1 or update infra/local/src/launcher.py"
        )

    def skipped_while_sending(count):
        def get(queue):
            return 0 if getattr(_sending, "active", False) else count.fget(queue)

        return property(get)

    for name in counts:
        setattr(models.Queue, name, skipped_while_sending(getattr(models.Queue, name)))

    def send_message(self, *args, **kwargs):
        outer = getattr(_sending, "active", False)
        _sending.active = True
        try:
            return original_send(self, *args, **kwargs)
        finally:
            _sending.active = outer

    models.SQSBackend.send_message = send_message


def main():
    host, port, parent = sys.argv[1], sys.argv[2], int(sys.argv[3])
    threading.Thread(target=watch_parent, args=(parent,), daemon=True).start()
    if os.environ.get("FLIGHTDECK_EMULATOR_UNPATCHED", "") in ("", "0"):
        fix_sqs_retention_check()
        fix_sqs_send_cost()
        print("flightdeck: emulator fixes applied: sqs-retention-check, sqs-send-cost", flush=True)
    else:
        print("flightdeck: emulator fixes skipped (FLIGHTDECK_EMULATOR_UNPATCHED)", flush=True)
    from moto.server import main as moto_main

    moto_main(["-H", host, "-p", port])


main()
