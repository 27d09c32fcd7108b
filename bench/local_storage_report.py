"""The Markdown result of bench/local-storage.sh from its work directory: per mode, the load
runner's answers, and the emulator's object data, RSS and the free disk, sampled every second."""
import os
import sys

from report_lib import machine, mode_runs

work, modes, rate, seconds, cap_gb, started, load_before, load_after, commit = sys.argv[1:]
GB = 2**30

print(f"# The local cloud's disk under a load run, {started}\n")
print("`bench/local-storage.sh`: a fresh local cloud (`flightdeck local up --no-fleet`: no workers,")
print("so every upload stays) and a fresh release `flightdeck-api` per mode; `flightdeck load run`")
print(f"sends {rate} uploads of 4 MB a second for {seconds} s (open model). Every second: the object")
print("data the emulator holds (the kernel's count for its unnamed files), its RSS, and the free")
print("space on the disk that holds its data.\n")
print(f"- command: `RATE={rate} SECONDS_={seconds} CAP_GB={cap_gb} MODES='{modes}' bench/local-storage.sh`")
print(f"- git commit: {commit}")
print(f"- machine: {machine()}")
print(f"- load average before: {load_before}; after: {load_after} (a shared machine)")
print(f"- modes: `capped` is `FLIGHTDECK_LOCAL_STORAGE_GB={cap_gb}` (the lifecycle removes the oldest")
print("  uploads past 60 % of it, every 5 s; the emulator refuses writes past it, and below 2 GB")
print("  free disk, with 503 `SlowDown`); `uncapped` is `FLIGHTDECK_LOCAL_STORAGE_GB=1000000")
print("  FLIGHTDECK_LOCAL_MIN_FREE_GB=0`, the local cloud as it was before the bound.\n")

rows = []
for mode, d, report, samples, t0, t1 in mode_runs(work, modes):
    rows.append((mode, report, samples, t1))

print("| mode | sent | 201 | 503 | other failures | p50 s | p99 s | emulator data max GB | at the end GB | emulator RSS max MB | free disk before GB | min GB | used by the run GB |")
print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for mode, report, samples, t1 in rows:
    r = report["requests"]
    lat = report.get("latency") or {}
    statuses = report.get("statuses", {})
    ok, busy = statuses.get("201", 0), statuses.get("503", 0)
    other = {k: v for k, v in statuses.items() if k not in ("201", "503")}
    other.update(report.get("errors", {}))
    other_txt = ", ".join(f"{k} {v}" for k, v in sorted(other.items())) or "none"
    held_max = max(s[1] for s in samples) / GB
    end = min(samples, key=lambda s: abs(s[0] - t1))
    rss_max = max(s[2] for s in samples) / 2**20
    free0, free_min = samples[0][3] / GB, min(s[3] for s in samples) / GB
    print(f"| {mode} | {r['sent']} | {ok} | {busy} | {other_txt} | {lat.get('median', 0):.2f} | "
          f"{lat.get('p99', 0):.2f} | {held_max:.2f} | {end[1] / GB:.2f} | {rss_max:.0f} | "
          f"{free0:.1f} | {free_min:.1f} | {free0 - free_min:.1f} |")
print()
for mode, report, samples, t1 in rows:
    d = os.path.join(work, mode)
    n = open(os.path.join(d, "slowdowns")).read().strip() or "0"
    first = open(os.path.join(d, "slowdown-first")).read().strip()
    print(f"- {mode}: the API logged {n} S3 write(s) refused by the emulator (SlowDown, after the SDK's retries)"
          + (f"; the first:\n  `{first.split(' WARN ')[-1]}`" if first else ""))
print()
print("The emulator's object data in GB every 10 s from the run's start (`|` marks the run's end):\n")
print("```")
for mode, report, samples, t1 in rows:
    line, marked = [], False
    for s in samples[::10]:
        if not marked and s[0] > t1:
            line.append("|")
            marked = True
        line.append(f"{s[1] / GB:.1f}")
    print(f"{mode:>8}: " + " ".join(line))
print("```")
