"""What the Markdown reports of the load-run benchmarks (api-overload.sh, local-storage.sh)
share: the machine's line, and each mode's load report and samples from the work directory."""
import json
import os
import platform
import subprocess


def machine():
    """`N cores, CPU model, N GiB RAM, Linux release`."""
    cpu = subprocess.run(
        "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2",
        shell=True, capture_output=True, text=True,
    ).stdout.strip()
    ram = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
    return f"{os.cpu_count()} cores, {cpu}, {ram} GiB RAM, Linux {platform.release()}"


def mode_runs(work, modes):
    """Per mode with a load report: (mode, its directory, the report, the samples as tuples of
    floats, the load run's start and end). A mode without one is said in the report and skipped."""
    for mode in modes.split():
        d = os.path.join(work, mode)
        try:
            report = json.load(open(os.path.join(d, "report.json")))
        except (OSError, ValueError) as e:
            print(f"- {mode}: no load report ({e}); load runner said: {open(os.path.join(d, 'load.err')).read()[-500:]}")
            continue
        t0 = float(open(os.path.join(d, "load-start")).read())
        t1 = float(open(os.path.join(d, "load-end")).read())
        samples = [tuple(map(float, l.split("\t"))) for l in open(os.path.join(d, "samples.tsv")) if l.strip()]
        yield mode, d, report, samples, t0, t1
