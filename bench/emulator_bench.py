"""What the emulator benchmarks share: start an emulator through flightdeck's launcher on a
free port, make boto3 clients for it, and read its CPU time and RSS from /proc.

Run with the emulator's own Python (which has boto3); the scripts in this folder import it.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time

import boto3


# The malloc settings the local cloud gives its emulator (infra/local/src/emulator.rs).
MALLOC = {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "131072"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_s(pid):
    """User + system CPU seconds of `pid`."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def start_emulator(launcher, **env_extra):
    """An emulator through `launcher` (a path) with `env_extra` in its environment, its object
    data in a new temporary directory; it exits with this process. Returns (process, clients)
    where `clients(service)` makes a boto3 client for it, once it answers."""
    port = free_port()
    env = dict(os.environ, FLIGHTDECK_EMULATOR_DATA_DIR=tempfile.mkdtemp(), **env_extra)
    # Its log goes to a file on disk, as the local cloud's does (an unnamed one: it is gone
    # once the emulator and this process have closed it).
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-c", open(launcher).read(), "127.0.0.1", str(port), str(os.getpid())],
        env=env,
        stdout=log,
        stderr=log,
    )
    log.close()

    def clients(service):
        return boto3.client(
            service,
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )

    probe = clients("s3")
    for _ in range(100):  # at most 10 s
        try:
            probe.list_buckets()
            break
        except Exception:
            time.sleep(0.1)
    return proc, clients
