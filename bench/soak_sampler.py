"""Samples the memory and CPU of every process of a local cloud, for bench/soak.sh.

Usage: soak_sampler.py RUNTIME_DIR OUT.jsonl EVERY_S MAX_S GUARD_MB [CONSOLE_PID]

Every EVERY_S seconds it finds the processes (the `local up` owner and the emulator from
RUNTIME_DIR/running.json, the owner's fleet children by name, the console by pid) and appends
one JSON line: time, load average, and per process its RSS (MB) and CPU (% of one core since
the last sample). It stops after MAX_S seconds, when the owner is gone, or on SIGTERM. If the
emulator's RSS passes GUARD_MB it kills the emulator (so a runaway cannot take the machine
down), records that, and stops.
"""

import json
import os
import signal
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def stat(pid):
    """(name, cpu seconds, rss MB) of a live process, or None."""
    text = read(f"/proc/{pid}/stat")
    if text is None:
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICK
    rss = int(fields[21]) * PAGE / 2**20
    return name, cpu, rss


def children(pid):
    out = []
    for task in os.listdir(f"/proc/{pid}/task") if os.path.isdir(f"/proc/{pid}/task") else []:
        text = read(f"/proc/{pid}/task/{task}/children") or ""
        out.extend(int(c) for c in text.split())
    return out


def processes(runtime_dir, console_pid):
    running = read(os.path.join(runtime_dir, "running.json"))
    found = {}
    if running:
        info = json.loads(running)
        owner = info["owner_pid"]
        found["local-up"] = owner
        if info.get("emulator_pid"):
            found["emulator"] = info["emulator_pid"]
        seen = {}
        for child in children(owner):
            s = stat(child)
            if s is None:
                continue
            kind = {"flightdeck-api": "api", "flightdeck-work": "worker"}.get(s[0])
            if kind:
                seen[kind] = seen.get(kind, 0) + 1
                found[f"{kind}-{child}"] = child
    if console_pid:
        found["console"] = console_pid
    return found


def main():
    runtime_dir, out_path = sys.argv[1], sys.argv[2]
    every, max_s, guard_mb = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
    console_pid = int(sys.argv[6]) if len(sys.argv) > 6 and sys.argv[6] else None
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    started = time.time()
    last_cpu = {}
    with open(out_path, "a") as out:
        while not stop and time.time() - started < max_s:
            now = time.time()
            sample = {"t": round(now - started, 1), "load": os.getloadavg()[0], "procs": {}}
            procs = processes(runtime_dir, console_pid)
            if "local-up" not in procs:
                break
            for label, pid in procs.items():
                s = stat(pid)
                if s is None:
                    continue
                _, cpu, rss = s
                prev = last_cpu.get(pid)
                pct = None if prev is None else 100 * (cpu - prev[1]) / max(now - prev[0], 1e-3)
                last_cpu[pid] = (now, cpu)
                sample["procs"][label] = {"rss_mb": round(rss, 1), "cpu_pct": pct and round(pct, 1)}
            emulator = sample["procs"].get("emulator")
            if emulator and emulator["rss_mb"] > guard_mb:
                os.kill(procs["emulator"], signal.SIGKILL)
                sample["guard"] = f"emulator RSS {emulator['rss_mb']} MB > {guard_mb} MB: killed"
                out.write(json.dumps(sample) + "\n")
                out.flush()
                break
            out.write(json.dumps(sample) + "\n")
            out.flush()
            time.sleep(max(0.0, every - (time.time() - now)))


main()
