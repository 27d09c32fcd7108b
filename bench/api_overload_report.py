"""The Markdown result of bench/api-overload.sh from its work directory: per mode, the load
runner's answer counts and latency, and the API's RSS and open connections (sampled every
second) during the run, at its end, and once its connections had closed."""
import os
import sys

from report_lib import machine, mode_runs

work, modes, rate, seconds, started, load_before, load_after, commit = sys.argv[1:]

print(f"# The upload API under overload, {started}\n")
print(f"`bench/api-overload.sh`: a fresh local cloud (`flightdeck local up --no-fleet`) and a fresh release")
print(f"`flightdeck-api` per mode; `flightdeck load run` sends {rate} uploads of 4 MB a second for {seconds} s")
print("(open model: arrivals do not wait for answers), more than the API can store in the")
print("emulator. The API's RSS and its clients' open connections are sampled every second,")
print("during the run and until the connections have closed.\n")
print(f"- command: `RATE={rate} SECONDS_={seconds} MODES='{modes}' bench/api-overload.sh`")
print(f"- git commit: {commit}")
print(f"- machine: {machine()}")
print(f"- load average before: {load_before}; after: {load_after} (a shared machine)")
cap = os.environ.get("FLIGHTDECK_LOCAL_STORAGE_GB")
if cap:
    print(f"- the local cloud's storage cap: {cap} GB (`FLIGHTDECK_LOCAL_STORAGE_GB`), enough for every upload")
print("- modes: `bounded` is the default (at most 128 uploads wait for a part buffer, each at most")
print("  10 s, then 503 `server_busy`); `unbounded` is `--upload-queue 65536 --upload-wait-seconds 3600`,")
print("  the wait as it was before the bound; `glibc-malloc` is the defaults with glibc's own malloc")
print("  arenas (`MALLOC_ARENA_MAX` = 8 per core) instead of the two the API sets for itself;")
print("  `arenas-only` sets `MALLOC_ARENA_MAX=2` in the environment (what the API sets for itself")
print("  since 2026-12-05-0840; before, it also fixed a 128 KiB mmap threshold); `scarce` is")
print("  `--part-buffers 1 --upload-wait-seconds 2` (one buffer: the API stores about one upload at")
print("  a time, so it is overloaded on any machine; a wait short enough to run out in a queue of")
print("  128, as the 10 s one does when storing is slow), where once a wait has run out one new")
print("  upload may wait at a time (`--upload-overload-queue`, default: the part buffers);")
print("  `scarce-long-queue` is the same with `--upload-overload-queue 128`, the whole queue open")
print("  in an overload.\n")

rows = []
for mode, d, report, samples, t0, t1 in mode_runs(work, modes):
    during = [s for s in samples if t0 <= s[0] <= t1] or samples
    after = [s for s in samples if s[0] > t1]
    last = samples[-1]
    closed = next((s for s in after if s[2] == 0), None)
    r = report["requests"]
    lat = report.get("latency") or {}
    errors = ", ".join(f"{k} {v}" for k, v in sorted(report.get("errors", {}).items())) or "none"
    rows.append((mode, r, lat, errors, during, after, last, closed, t1, samples[0]))

print("| mode | sent | 201 | failed | cancelled | errors | p50 s | p99 s | API RSS max MB | connections max | at the run's end: RSS MB / connections | connections closed after | RSS then MB |")
print("|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---|---:|")
for mode, r, lat, errors, during, after, last, closed, t1, first in rows:
    rss_max = max(s[1] for s in during + after)
    conns_max = int(max(s[2] for s in during + after))
    end = min(during + after, key=lambda s: abs(s[0] - t1))
    closed_txt = f"{closed[0] - t1:.0f} s" if closed else f"not within the wait ({int(last[2])} still open)"
    rss_then = f"{closed[1]:.0f}" if closed else f"{last[1]:.0f}"
    print(f"| {mode} | {r['sent']} | {r['ok']} | {r['failed']} | {r['cancelled']} | {errors} | "
          f"{lat.get('median', 0):.2f} | {lat.get('p99', 0):.2f} | {rss_max:.0f} | {conns_max} | "
          f"{end[1]:.0f} / {int(end[2])} | {closed_txt} | {rss_then} |")
print()
print("RSS before the run: " + ", ".join(f"{m} {f[1]:.0f} MB" for m, *_, f in rows) + ".")
print()
print("The API's RSS in MB every 10 s from the run's start (`|` marks the run's end):\n")
print("```")
for mode, r, lat, errors, during, after, last, closed, t1, first in rows:
    line = []
    marked = False
    for s in (during + after)[::10]:
        if not marked and s[0] > t1:
            line.append("|")
            marked = True
        line.append(f"{s[1]:.0f}")
    print(f"{mode:>9}: " + " ".join(line))
print("```")
