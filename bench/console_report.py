"""The result file of bench/console.sh, from the raw logs in $RUNTIME and the numbers the
script passes in the environment. Prints Markdown."""

import glob, json, os, statistics, subprocess

env = os.environ
rt = env["RUNTIME"]

def sh(c):
    return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()

def lines(path):
    out = []
    for l in open(path):
        try:
            out.append(json.loads(l))
        except ValueError:
            pass
    return out

def pct(values, p):
    s = sorted(values)
    if not s:
        return None
    import math
    return s[max(1, math.ceil(p / 100 * len(s))) - 1]

# First full frame per run: ms since main + exec-to-main (from /proc, 10 ms resolution).
starts = []
for run in range(1, int(env["RUNS"]) + 1):
    log = lines(f"{rt}/frames-{run}.jsonl")
    head = next(l for l in log if l.get("event") == "start")
    pre = head.get("exec_to_main_ms") or 0.0
    first = next(l for l in log if "trigger" in l)
    full = next(l for l in log if l.get("first_full"))
    starts.append({"run": run, "pre": pre, "first": first["ms"] + pre, "full": full["ms"] + pre})

log1 = lines(f"{rt}/frames-1.jsonl")
summary = next((l for l in log1 if l.get("event") == "summary"), None)
idle_end = float(open(f"{rt}/idle-end").read()) * 1000 if os.path.exists(f"{rt}/idle-end") else None
idle_frames = [l for l in log1 if "trigger" in l and idle_end and l["unix_ms"] <= idle_end]
measure = float(env["MEASURE"])
window = [l for l in idle_frames if l["unix_ms"] >= idle_end - measure * 1000]
key_frames = [l for l in log1 if l.get("trigger") == "key"]
key_ms = [l["latency_ms"] for l in key_frames]

# Cross-check from outside: tmux send-keys time (before the send) to the key frame's end, in
# order; only when every j/k press produced exactly one frame (view switches are excluded by
# position, so this needs the counts to match).
sends = [int(x) / 1e6 for x in open(f"{rt}/sends.txt").read().split()] if os.path.exists(f"{rt}/sends.txt") else []

cpu, rss, hwm = (env["IDLE"].split() + ["?", "?", "?"])[:3]

def calls_at_idle_end(log, end_file):
    """The calls per minute (and by API) on the last frame of an idle window."""
    if not os.path.exists(end_file):
        return None, None
    end = float(open(end_file).read()) * 1000
    frames = [l for l in log if "trigger" in l and l["unix_ms"] <= end]
    last = frames[-1] if frames else {}
    return last.get("calls_per_min"), last.get("calls_by_api")

baseline = None
if env.get("BASELINE_IDLE"):
    b_cpu, b_rss, b_hwm = (env["BASELINE_IDLE"].split() + ["?", "?", "?"])[:3]
    b_calls, b_by_api = calls_at_idle_end(lines(f"{rt}/frames-baseline.jsonl"), f"{rt}/idle-end-baseline")
    baseline = {"cpu": b_cpu, "rss": b_rss, "calls": b_calls, "by_api": b_by_api}
tcpu, trss, thwm = (env["TAWS_IDLE"].split() + ["-", "-", "-"])[:3]

full_ms = [s["full"] for s in starts]
p99_key = summary["key"]["p99"] if summary else None
calls, by_api = calls_at_idle_end(log1, f"{rt}/idle-end")

def met(ok):
    return "**met**" if ok else "**not met**"

fixture = json.loads(env["FIXTURE"]) if env["FIXTURE"].startswith("{") else {}
print("# console at scale, " + sh("date -u '+%Y-%m-%d %H:%M'") + " UTC\n")
print(f"Command: `{'QUEUES_S=' + env['QUEUES_S'] + ' ' if env['QUEUES_S'] else ''}RUNS={env['RUNS']} SECONDS_MEASURED={env['MEASURE']} WARMUP={env['WARMUP']} KEYS={env['KEYS']} KEY_GAP={env['KEY_GAP']} FLEET={env['FLEET']} bench/console.sh`")
dirty = " (plus uncommitted work)" if env.get("DIRTY", "0").strip() not in ("", "0") else ""
print(f"at commit {env['COMMIT']}{dirty}; binary `{env['BIN']}` ({env['PROFILE']} build).")
if env.get("UP_BIN") and env["UP_BIN"] != env["BIN"]:
    print(f"The local cloud (emulator and fleet) ran from `{env['UP_BIN']}`; only the console is measured.")
print()
print(f"Machine: {env['MACHINE']}.")
print(f"Load average at the end: {env['LOADAVG']} (a shared machine: other builds and tests may have been running).\n")
print(f"Emulator: moto 5.2.5 from `flightdeck local up`{'' if env['FLEET'] == '1' else ' --no-fleet'} (the stack's 2 groups and 2 queues{', with the local fleet publishing their CPU' if env['FLEET'] == '1' else ''}),")
print(f"plus {env['GROUPS_N']} groups (1-2 instances each, a CPU target-tracking policy each) and {env['QUEUES_N']} queues")
print(f"(every fifth a DLQ with one source queue redriving to it; a few hold 3 messages) from `bench/console_fixture.py`:")
print(f"{fixture.get('groups_total', '?')} groups, {fixture.get('queues_total', '?')} queues, {fixture.get('instances_total', '?')} instances in all.")
print(f"The console ran with {env['CONFIG_NOTE']}.")
print(f"Provisioning took {env['FIXTURE_S']} s (groups {fixture.get('groups_s', '?')} s, queues {fixture.get('queues_s', '?')} s).\n")

print("| measure | target | flightdeck | met? |")
print("| --- | --- | --- | --- |")
print(f"| first full frame (groups, queues and CPU drawn), ms from process start, {len(full_ms)} starts | < 500 | median {statistics.median(full_ms):.0f} (min {min(full_ms):.0f}, max {max(full_ms):.0f}) | {met(max(full_ms) < 500)} |")
print(f"| idle CPU, % of one core, {env['MEASURE']} s at {'the default refresh' if not env['QUEUES_S'] else 'queues_s = ' + env['QUEUES_S']} | < 2 | {cpu} | {met(cpu != '?' and float(cpu) < 2)} |")
print(f"| RSS, MB (largest sample over the idle window; peak since start) | < 40 | {rss} ({hwm}) | {met(hwm != '?' and float(hwm) < 40)} |")
print(f"| AWS calls per minute (its own counter, end of the idle window) | - | {calls} | - |")
if summary:
    k = summary["key"]
    print(f"| key-to-frame latency, ms, {k['n']} key frames while agents poll | p99 < 20 | p50 {k['p50']}, p99 {k['p99']}, max {k['max']} | {met(p99_key is not None and p99_key < 20)} |")
print()
if baseline:
    print("Idle cost side by side, same run, same emulator and fixture (issue 19's target: < 0.6 % of a core):\n")
    print("| console | idle CPU (% of one core) | AWS calls per minute | GetQueueAttributes per minute | met? |")
    print("| --- | --- | --- | --- | --- |")
    gqa = lambda by: (by or {}).get("GetQueueAttributes", "?")
    print(f"| baseline: every queue at the full refresh (`{env['BASELINE_CONFIG']}`) | {baseline['cpu']} | {baseline['calls']} | {gqa(baseline['by_api'])} | - |")
    print(f"| now: rows on screen at the full refresh, the rest every 60 s | {cpu} | {calls} | {gqa(by_api)} | {met(cpu != '?' and float(cpu) < 0.6)} |")
    print()
print("| program | idle CPU (% of one core) | RSS (MB, largest sample) | peak RSS (MB) | refreshes by itself |")
print("| --- | --- | --- | --- | --- |")
print(f"| flightdeck ({env['PROFILE']}), dashboard | {cpu} | {rss} | {hwm} | yes: groups 3 s, queues on screen {env['QUEUES_S'] or 3} s (off screen 60 s), CPU 15 s |")
print(f"| {env['TAWS_VERSION']}, `:autoscaling-groups` (title says {env['TAWS_GROUPS'] or '?'} groups) | {tcpu} | {trss} | {thwm} | no (one call per `R`) |")
if env["TAWS_NOTE"]:
    print(f"\n{env['TAWS_NOTE']}")
print()
print("How each number is taken:")
print("- First full frame: the console's frame log (`FLIGHTDECK_FRAME_LOG`) marks the first frame drawn")
print("  after groups, queues and CPU reports have all arrived (`ui::State::populated`); its time is")
print("  measured with a `std::time::Instant` taken first thing in `main`, to the end of `terminal.draw`")
print("  (which flushes), plus the exec-to-`main` time from `/proc/self/stat` and `/proc/uptime` (10 ms")
print("  resolution; " + ", ".join(f"{s['pre']:.0f}" for s in starts) + " ms here).")
print("  Per start (first frame / first full frame, ms): " + "; ".join(f"{s['first']:.0f} / {s['full']:.0f}" for s in starts) + ".")
print("- Idle CPU and RSS: `/proc/PID/stat` utime+stime over the window, VmRSS sampled each second,")
print(f"  VmHWM at the end; {env['WARMUP']} s after the first full frame, nothing pressed. Same for taws.")
if window:
    by = {}
    for l in window:
        by[l["trigger"]] = by.get(l["trigger"], 0) + 1
    draw = statistics.mean(l["draw_ms"] for l in window)
    print(f"  In the window the console drew {len(window)} frames ({len(window) / measure:.1f}/s: "
          + ", ".join(f"{v} {k}" for k, v in sorted(by.items())) + f"), {draw:.2f} ms each on average.")
if env.get("BREAKDOWN"):
    anon, binary, libs, nlibs = env["BREAKDOWN"].split()
    print(f"  Where the RSS is at the end of the window (`/proc/PID/smaps`): {binary} MB in the binary's own")
    print(f"  mappings (code, data, bss), {libs} MB in those of {nlibs} shared libraries, {anon} MB in the rest")
    print("  (heap, thread stacks, other anonymous mappings).")
print("- AWS calls per minute: the console's own counter (`console/src/agents/calls.rs`, what the")
print("  status line shows), read from the frame log's last frame of the idle window: "
      + (", ".join(f"{k} {v}" for k, v in sorted((by_api or {}).items())) or "none") + ".")
print(f"  The status line then: `{' '.join(env['STATUS_LINE'].split())}`")
if summary:
    print("- Key-to-frame: per key frame, from the key event's arrival in the UI loop to the end of")
    print(f"  `terminal.draw`. {env['KEYS']} j/k presses one every {env['KEY_GAP']} s through `tmux send-keys`,")
    print("  with tab/enter/esc/shift-tab every 50 (those frames are counted too). A key that arrives")
    print("  while the loop applies a report waits for it, which this does not count; the loop's")
    r = summary["report"]
    print(f"  report frames (report arrival to drawn) took p50 {r['p50']}, p99 {r['p99']}, max {r['max']} ms,")
    print("  which bounds that wait.")
    switches = 4 * (int(env["KEYS"]) // 50)
    if sends and len(key_frames) == len(sends) + switches:
        # The i-th j/k press is key frame i + 4 * (i // 50): four switch keys follow every 50.
        ext = [key_frames[i + 4 * (i // 50)]["unix_ms"] - t for i, t in enumerate(sends)]
        print(f"  Cross-check from outside: from just before each `tmux send-keys` to the end of its frame")
        print(f"  (wall clock, includes starting the tmux client and the pty): p50 {pct(ext, 50):.1f},")
        print(f"  p99 {pct(ext, 99):.1f}, max {max(ext):.1f} ms over {len(ext)} presses.")
    elif sends:
        print(f"  (No outside cross-check: {len(key_frames)} key frames for {len(sends)} presses + {switches} switches.)")
print()
print("The screen at the end of the idle window (first 16 lines):\n")
print("```")
print("\n".join(env["SCREEN"].splitlines()[:16]))
print("```")
if env["TAWS_SCREEN"]:
    print("\ntaws's screen (first 12 lines):\n")
    print("```")
    print("\n".join(env["TAWS_SCREEN"].splitlines()[:12]))
    print("```")
