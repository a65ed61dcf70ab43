#!/usr/bin/env python3
"""Benchmarks `heapsleuth analyze` on the deterministic dumps of ../shared/bench.

    benches/bench.py [--dir DIR] [--runs N] [--threads N] [SIZE ...]

SIZE is 2m, 10m or 30m (default: 2m 10m). Dumps are made with
../shared/bench/make-bench-dump.sh when missing, under DIR (default: the system temp dir,
never the repository). Each dump is analysed --runs times (default 3) after one warm-up
run that loads the page cache; the script prints, per phase, the median wall time and CPU
time, and for the whole run objects/s, MB/s and peak RSS (anonymous vs. file pages of the
mapped dump are reported per phase by heapsleuth's --timings).
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT.parent / "shared" / "bench" / "make-bench-dump.sh"
TIMING = re.compile(r'^timing phase="([^"]+)" (.*)$')


def build():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    return ROOT / "target" / "release" / "heapsleuth"


def ensure_dump(size, directory):
    path = Path(directory) / f"bench-{size}.hprof"
    if not path.exists():
        if not GEN.exists():
            sys.exit(f"missing {path} and the generator {GEN}")
        print(f"making {path} with {GEN.name} ...", flush=True)
        subprocess.run([str(GEN), size, str(path)], check=True)
    return path


def run_once(binary, dump, threads):
    cmd = [str(binary), "analyze", str(dump), "--timings", "--format", "json"]
    if threads:
        cmd += ["--threads", str(threads)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"heapsleuth failed ({p.returncode}): {p.stderr[-2000:]}")
    phases = {}
    for line in p.stderr.splitlines():
        m = TIMING.match(line)
        if m:
            fields = dict(kv.split("=", 1) for kv in m.group(2).split())
            phases[m.group(1)] = {k: float(v) for k, v in fields.items()}
    objects = int(re.search(r'"objects": (\d+)', p.stdout).group(1))
    return phases, objects


def report(size, dump, runs, objects):
    names = [n for n in runs[0] if n != "total"]
    mb = dump.stat().st_size / 1e6
    print(f"\n== {size}: {dump} ({mb:.0f} MB, {objects:,} objects, {len(runs)} runs, medians)")
    print(f"{'phase':<24}{'wall ms':>10}{'cpu ms':>10}{'anon MB':>10}{'file MB':>10}")
    for n in names:
        med = lambda k: statistics.median(r[n][k] for r in runs if n in r)
        print(f"{n:<24}{med('wall_ms'):>10.0f}{med('cpu_ms'):>10.0f}{med('rss_anon_mb'):>10.0f}{med('rss_file_mb'):>10.0f}")
    wall = statistics.median(r["total"]["wall_ms"] for r in runs) / 1e3
    cpu = statistics.median(r["total"]["cpu_ms"] for r in runs) / 1e3
    peak = statistics.median(r["total"]["peak_rss_mb"] for r in runs)
    anon = max(max(p["rss_anon_mb"] for k, p in r.items() if k != "total") for r in runs)
    print(f"{'total':<24}{wall * 1e3:>10.0f}{cpu * 1e3:>10.0f}")
    print(
        f"-> {wall:.2f} s wall, {cpu:.2f} s CPU, {objects / wall / 1e6:.2f} M objects/s, "
        f"{mb / wall:.0f} MB/s, peak RSS {peak:.0f} MB (anonymous at most {anon:.0f} MB, "
        f"{anon * 1e6 / objects:.1f} B/object)"
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sizes", nargs="*", default=["2m", "10m"], choices=["2m", "10m", "30m"])
    ap.add_argument("--dir", default=tempfile.gettempdir(), help="where the dumps live (default: %(default)s)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="heapsleuth --threads (default: all cores)")
    args = ap.parse_args()
    binary = build()
    print(f"heapsleuth: {binary}; machine: {os.cpu_count()} cores")
    for size in args.sizes:
        dump = ensure_dump(size, args.dir)
        run_once(binary, dump, args.threads)  # warm the page cache
        results = [run_once(binary, dump, args.threads) for _ in range(args.runs)]
        report(size, dump, [r[0] for r in results], results[0][1])


if __name__ == "__main__":
    main()
