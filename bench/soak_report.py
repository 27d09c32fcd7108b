"""The result file of bench/soak.sh, from its raw data directory. Prints Markdown.

Usage: soak_report.py WORK STARTED LOAD_BEFORE PROFILE SCENARIOS
"""

import glob
import json
import math
import os
import platform
import subprocess
import sys

work, started, load_before, profile, scenarios = sys.argv[1:6]

TARGET_EMULATOR_MB = 1536
TARGET_CONSOLE_MB = 40
TARGET_KEY_P99_MS = 20


def lines(path):
    out = []
    if not os.path.exists(path):
        return out
    for line in open(path):
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def sh(cmd):
    return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()


def pct(values, p):
    s = sorted(values)
    return s[max(1, math.ceil(p / 100 * len(s))) - 1] if s else None


def met(ok):
    return "met" if ok else "**not met**"


samples = lines(f"{work}/samples.jsonl")
phases = [l.split() for l in open(f"{work}/phases.txt")] if os.path.exists(f"{work}/phases.txt") else []
t0 = os.path.getmtime(f"{work}/samples.jsonl") - (samples[-1]["t"] if samples else 0)


def phase_at(unix):
    current = "warm"
    for when, edge, name in phases:
        if float(when) <= unix:
            current = name if edge == "start" else f"after {name}"
    return current


def series(label_prefix, key="rss_mb", total=False):
    out = []
    for s in samples:
        vals = [v[key] or 0 for k, v in s["procs"].items() if k == label_prefix or k.startswith(label_prefix + "-")]
        out.append(sum(vals) if total else (max(vals) if vals else None))
    return out


emulator = [v for v in series("emulator") if v is not None]
console = [v for v in series("console") if v is not None]
guard = next((s["guard"] for s in samples if "guard" in s), None)

# Load reports.
accepted, sent, reports = 0, 0, []
for s in scenarios.split():
    try:
        r = json.load(open(f"{work}/load-{s}.json"))
    except (OSError, ValueError):
        reports.append((s, None))
        continue
    reports.append((s, r))
    sent += r["requests"].get("sent", r["requests"].get("total", 0))
    for step in r.get("steps", []):
        if "upload" in step["label"]:
            accepted += step["ok"]

counts = {}
if os.path.exists(f"{work}/counts.txt"):
    for kv in open(f"{work}/counts.txt").read().split():
        k, v = kv.split("=")
        counts[k] = int(v)
recorded = sum(counts.values())

frames = lines(f"{work}/frames.jsonl")
summary = next((l for l in frames if l.get("event") == "summary"), None)
key_ms = [l["latency_ms"] for l in frames if l.get("trigger") == "key"]
key_p99 = pct(key_ms, 99)

console_flat = bool(console) and max(console) - min(console[len(console) // 4 :] or console) < 10

cpu = sh("lscpu | sed -n 's/^Model name: *//p'") or platform.processor()
mem = sh("free -g | awk '/Mem:/ {print $2}'")
print(f"# Soak: the local cloud under `{scenarios}` with the console open")
print()
print(f"- date: {started} (UTC); machine: {os.cpu_count()} cores, {mem} GB, {cpu}; Linux {platform.release()}")
print(f"- build: {profile}; load average before: {load_before}; during (max of samples): "
      f"{max((s['load'] for s in samples), default=0):.2f}")
print(f"- sampled every {samples[1]['t'] - samples[0]['t'] if len(samples) > 1 else '?'} s, "
      f"{len(samples)} samples over {samples[-1]['t'] if samples else 0:.0f} s; re-run: `bench/soak.sh`")
if guard:
    print(f"- **the guard stopped the run**: {guard}")
print()
print("| target | goal | result | |")
print("| --- | --- | --- | --- |")
print(f"| emulator RSS throughout | < {TARGET_EMULATOR_MB} MB | max {max(emulator, default=0):.0f} MB | {met(bool(emulator) and max(emulator) < TARGET_EMULATOR_MB and not guard)} |")
print(f"| console RSS | flat, < {TARGET_CONSOLE_MB} MB | {min(console, default=0):.1f} .. {max(console, default=0):.1f} MB | {met(bool(console) and max(console) < TARGET_CONSOLE_MB and console_flat)} |")
print(f"| uploads accepted = videos recorded | exact | {accepted} accepted, {recorded} recorded ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}) | {met(accepted == recorded and accepted > 0)} |")
print(f"| console key-to-frame p99 during the run | < {TARGET_KEY_P99_MS} ms | p99 {key_p99} ms over {len(key_ms)} keys (max {max(key_ms, default=0)}) | {met(key_p99 is not None and key_p99 < TARGET_KEY_P99_MS)} |")
listing = lines(f"{work}/listing.jsonl")
if listing:
    print()
    print("## The blow-up's cause")
    print()
    print("moto's ListObjectVersions deep-copies every version of every object in the bucket, "
          "object data included, on each call, even for a single key's prefix (to set "
          "`is_latest` on the copies). The API cleans up a failed upload with one such call, "
          "so under a load run each failure copied the whole bucket; the calls slowed, more "
          "uploads timed out and were cleaned up the same way, and the emulator grew to 21.6 GB. "
          "The launcher now makes those copies without the data, and keeps objects over 64 KiB "
          "in unlinked files on disk; the API deletes exactly the version it stored. "
          "In isolation (`bench/emulator_listing.py`, 4 MB objects):")
    print()
    print("| emulator | RSS at start | after the PUTs | after the listings | per listing |")
    print("| --- | --- | --- | --- | --- |")
    for l in listing:
        print(f"| {l['variant']} ({l['puts']} PUTs, {l['listings']} listings) | {l['rss_start_mb']} MB | "
              f"{l['rss_after_puts_mb']} MB | {l['rss_after_listings_mb']} MB | {l['listing_ms_each']} ms |")
print()
print("## Load runs")
print()
print("| scenario | sent | ok | failed | cancelled or in flight | p95 ms | errors |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for s, r in reports:
    if r is None:
        print(f"| {s} | no report | | | | | |")
        continue
    q = r["requests"]
    q_sent = q.get("sent", q.get("total", 0))
    other = q_sent - q["ok"] - q["failed"]
    p95 = (r.get("latency") or {}).get("p95", "-")
    p95 = f"{p95:.0f}" if isinstance(p95, (int, float)) else p95
    errors = ", ".join(f"{k} {v}" for k, v in sorted(r.get("errors", {}).items())) or "none"
    print(f"| {s} | {q_sent} | {q['ok']} | {q['failed']} | {other} | {p95} | {errors} |")
print()
print("## Per minute (max RSS in MB, mean CPU % of one core)")
print()
print("| min | phase | emulator RSS | emulator CPU | console RSS | console CPU | API RSS (n) | worker RSS (n) | local up RSS | load |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
by_minute = {}
for s in samples:
    by_minute.setdefault(int(s["t"] // 60), []).append(s)
for minute, group in sorted(by_minute.items()):
    def stat(label, key, agg):
        vals = []
        for s in group:
            v = [p[key] for k, p in s["procs"].items() if (k == label or k.startswith(label + "-")) and p[key] is not None]
            if v:
                vals.append(sum(v) if label in ("api", "worker") else max(v))
        return agg(vals) if vals else None

    def n(label):
        return max(sum(1 for k in s["procs"] if k.startswith(label + "-")) for s in group)

    def f(v, d=0):
        return "-" if v is None else f"{v:.{d}f}"

    mean = lambda v: sum(v) / len(v)
    ph = phase_at(t0 + group[0]["t"])
    print(f"| {minute} | {ph} | {f(stat('emulator', 'rss_mb', max))} | {f(stat('emulator', 'cpu_pct', mean))} | "
          f"{f(stat('console', 'rss_mb', max), 1)} | {f(stat('console', 'cpu_pct', mean), 1)} | "
          f"{f(stat('api', 'rss_mb', max))} ({n('api')}) | {f(stat('worker', 'rss_mb', max))} ({n('worker')}) | "
          f"{f(stat('local-up', 'rss_mb', max))} | {max(s['load'] for s in group):.1f} |")

profile_lines = lines(f"{work}/emulator-profile.jsonl")
if profile_lines:
    last = max(profile_lines, key=lambda l: l["rss_mb"])
    print()
    print(f"## The emulator at its largest (FLIGHTDECK_EMULATOR_PROFILE)")
    print()
    print(f"RSS {last['rss_mb']} MB, {last['threads']} threads, the C allocator holding "
          f"{last['malloc_held_mb']} MB of which {last['malloc_used_mb']} MB in use, "
          f"{last['objects']} Python objects.")
    for top in last.get("top", [])[:8]:
        print(f"- {top['mb']} MB in {top['count']} blocks at `{top['at']}`")
