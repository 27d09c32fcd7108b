"""Runs the worker's `throughput` example and samples its RSS; prints a Markdown report.

Usage: worker_memory.py BIN INPUT JOBS SLOTS ASSETS_DIR
"""

import subprocess
import sys
import time


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def main():
    binary, inp, jobs, slots, assets = sys.argv[1:]
    proc = subprocess.Popen(
        [binary, "--input", inp, "--jobs", jobs, "--concurrency", slots, "--assets", assets],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    t0, samples = time.monotonic(), []
    # Bounded: at most an hour of samples.
    while proc.poll() is None and time.monotonic() - t0 < 3600:
        r = rss_mb(proc.pid)
        if r is not None:
            samples.append((time.monotonic() - t0, r))
        time.sleep(0.25)
    if proc.poll() is None:
        proc.kill()
        raise SystemExit("the run took over an hour; stopped")
    line = proc.stdout.read().strip().split("\t")
    if proc.returncode != 0 or len(line) < 4:
        raise SystemExit(f"the run failed: {proc.returncode} {line}")
    n_jobs, wall = int(line[0]), float(line[2])
    end = samples[-1][0]
    # The jobs are the last `wall` seconds of the run (inputs are uploaded first).
    start = end - wall
    jobs_part = [(t, r) for t, r in samples if t >= start]
    half = [(t, r) for t, r in jobs_part if t >= start + wall / 2]
    n = len(half)
    mt = sum(t for t, _ in half) / n
    mr = sum(r for _, r in half) / n
    slope = sum((t - mt) * (r - mr) for t, r in half) / max(1e-9, sum((t - mt) ** 2 for t, _ in half))
    per_job = slope * wall / n_jobs
    print(f"- {n_jobs} jobs in {wall:.1f} s; RSS sampled every 0.25 s ({len(samples)} samples)")
    print(f"- RSS when the jobs start {jobs_part[0][1]:.0f} MB, at the end {jobs_part[-1][1]:.0f} MB, "
          f"peak {max(r for _, r in jobs_part):.0f} MB")
    print(f"- growth over the second half of the jobs (least squares): **{per_job:.2f} MB per job** "
          f"({slope:.2f} MB/s)")
    print()
    print("| share of the jobs' time | RSS MB |")
    print("| --- | --- |")
    for q in range(0, 11):
        at = start + wall * q / 10
        r = min(jobs_part, key=lambda s: abs(s[0] - at))[1]
        print(f"| {q * 10} % | {r:.0f} |")


main()
