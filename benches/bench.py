#!/usr/bin/env python3
"""Benchmarks `heapsleuth analyze` against the record-walk floor and its peers, side by side.

    benches/bench.py [--dir DIR] [--runs N] [--threads N] [--compare-threads] [--gzip SIZES]
                     [--peers LIST] [--timeout S] [--tools DIR] [--visualvm-jar JAR]
                     [--java-heap SIZE] [--markdown] [SIZE ...]

SIZE is 2m, 10m or 30m (default: 2m 10m): the deterministic dumps of
../shared/bench/make-bench-dump.sh, made when missing under DIR (default: the system temp
dir, never the repository). In one session, on the same dumps, with the page cache warmed
by one untimed heapsleuth run per dump:

- heapsleuth analyze, --runs times (default 3): per stage (read/inflate, parse, id
  resolution, graph, dominators, retained, rules, report; from its --timings lines) the
  median wall and CPU time, MB/s, objects/s, the stage's peak anonymous memory and the
  file-backed (mapped dump) resident memory at its end; for the whole run wall, CPU and peak RSS as this
  script measures them for every process (wait4), the anonymous peak and its bytes/object.
- the floor: benches/floor.rs walks every record and sub-record of the mapped dump.
- peers (--peers, default hprof-slurp,visualvm; "none" for none):
  hprof-slurp (crates.io; installed under --tools, default ~/.cache/heapsleuth-bench, when
  missing; a shallow histogram only, no dominators), --runs times; VisualVM's heap library
  (Debian package visualvm) through benches/visualvm/VisualVmTop.java, which asks for the
  biggest objects by retained size, once per dump under --timeout seconds (default 600),
  with its own step times, so a run that does not finish still says how far it got.
  The ratios are heapsleuth's wall time and peak RSS over the peer's.
- --compare-threads: heapsleuth also with --threads 1, per stage, against the default.
- --gzip SIZES (e.g. 10m): also bench-SIZE.hprof.gz, the JVM's own multi-member gzip (made
  when missing), per stage against the plain dump.

Progress goes to stderr and the tables to stdout; --markdown prints them as Markdown
tables for BENCHMARKS.md.
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT.parent / "shared" / "bench" / "make-bench-dump.sh"
DRIVER = ROOT / "benches" / "visualvm" / "VisualVmTop.java"
TIMING = re.compile(r'^timing phase="([^"]+)" (.*)$')
KV = re.compile(r"(\w+)=(\S+)")
SIZES = ["2m", "10m", "30m"]
PEERS = ["hprof-slurp", "visualvm"]
# The stages, each with the heapsleuth --timings phases it is made of.
STAGES = [
    ("read/inflate", ["inflating gzip", "reading records"]),
    ("parse", ["scanning heap records", "parsing objects"]),
    ("id resolution", ["sorting object ids", "sizing objects"]),
    ("graph", ["building graph"]),
    ("dominators", ["dominators"]),
    ("retained", ["retained sizes"]),
    ("rules", ["rules"]),
    ("report", ["histogram", "report"]),
]
VISUALVM_STEPS = ["open", "instances", "references", "gc-roots", "retained"]


def note(msg):
    print(msg, file=sys.stderr, flush=True)


# --- running and measuring processes ---------------------------------------------------


@dataclass
class Measured:
    """One child process as the kernel accounted it."""

    cmd: list
    rc: int
    wall: float  # s
    cpu: float  # s, user + system
    maxrss_mb: float
    stdout: str
    stderr: str
    timed_out: bool = False


def measure(cmd, timeout=None, env=None, cwd=None):
    """Runs cmd, returning its wall time, CPU time and peak RSS from wait4.

    wait4 gives the rusage of exactly this child, so every tool is measured the same way;
    the child gets a session of its own so that a timeout kills it and nothing else.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=cwd, start_new_session=True)
        timed_out = False
        try:
            while True:
                pid, status, ru = os.wait4(p.pid, os.WNOHANG)
                if pid:
                    break
                if timeout is not None and time.monotonic() - start > timeout:
                    timed_out = True
                    os.killpg(p.pid, signal.SIGKILL)
                    pid, status, ru = os.wait4(p.pid, 0)
                    break
                time.sleep(0.02)
        except BaseException:
            # Interrupted: the child's own session keeps it from seeing ^C, so end it here.
            os.killpg(p.pid, signal.SIGKILL)
            os.wait4(p.pid, 0)
            raise
        wall = time.monotonic() - start
        p.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Measured(
            cmd=cmd,
            rc=p.returncode,
            wall=wall,
            cpu=ru.ru_utime + ru.ru_stime,
            maxrss_mb=ru.ru_maxrss * 1024 / 1e6,  # ru_maxrss is in KiB on Linux
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
            timed_out=timed_out,
        )


def fail(what, m):
    sys.exit(f"{what} failed (exit {m.rc}): {' '.join(map(str, m.cmd))}\n{m.stderr[-2000:]}")


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# --- what is measured ------------------------------------------------------------------


def build():
    """Builds heapsleuth and the floor bench in one cargo call; returns their executables."""
    note("building heapsleuth and benches/floor.rs (release) ...")
    p = subprocess.run(
        ["cargo", "build", "--release", "--locked", "--bin", "heapsleuth", "--bench", "floor",
         "--message-format=json-render-diagnostics"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    if p.returncode != 0:
        sys.exit("cargo build failed")
    exe = {}
    for line in p.stdout.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable"):
            exe[msg["target"]["name"]] = Path(msg["executable"])
    return exe["heapsleuth"], exe["floor"]


def ensure_dump(size, directory, gz=False):
    path = Path(directory) / f"bench-{size}.hprof{'.gz' if gz else ''}"
    if not path.exists():
        if not GEN.exists():
            sys.exit(f"missing {path} and the generator {GEN}")
        note(f"making {path} with {GEN.name} ...")
        subprocess.run([str(GEN), size, str(path)], check=True, stdout=sys.stderr)
    return path


@dataclass
class HsRun:
    m: Measured
    phases: dict  # name -> {wall_ms, cpu_ms, rss_anon_mb, rss_file_mb}
    total: dict
    objects: int
    dump_bytes: int  # of the HPROF data, inflated for gzip input


def heapsleuth(binary, dump, threads=None):
    cmd = [str(binary), "analyze", str(dump), "--timings", "--quiet", "--format", "json"]
    if threads:
        cmd += ["--threads", str(threads)]
    m = measure(cmd)
    if m.rc != 0:
        fail("heapsleuth", m)
    phases, total = {}, {}
    for line in m.stderr.splitlines():
        t = TIMING.match(line)
        if t:
            values = {k: float(v) for k, v in KV.findall(t.group(2))}
            if t.group(1) == "total":
                total = values
            else:
                phases[t.group(1)] = values
    report = json.loads(m.stdout)
    return HsRun(m, phases, total, report["summary"]["objects"], report["dump"]["bytes"])


def heapsleuth_runs(binary, dump, runs, threads=None, label=""):
    note(f"heapsleuth analyze {dump.name}{label}: {runs} runs ...")
    return [heapsleuth(binary, dump, threads) for _ in range(runs)]


@dataclass
class Stage:
    name: str
    phases: list
    wall_ms: float
    cpu_ms: float
    anon_mb: float
    file_mb: float


def stages(runs):
    """Median per stage over runs. A stage's anonymous memory is its phases' peak (heapsleuth's
    per-phase `peak_anon_mb`: the phase's RSS high-water mark less its file pages); its file
    memory is that at the end of its last phase."""
    out = []
    for name, names in STAGES:
        present = [n for n in names if n in runs[0].phases]
        if not present:
            continue
        wall = med(sum(r.phases[n]["wall_ms"] for n in present) for r in runs)
        cpu = med(sum(r.phases[n]["cpu_ms"] for n in present) for r in runs)
        anon = med(max(r.phases[n].get("peak_anon_mb", r.phases[n]["rss_anon_mb"]) for n in present)
                   for r in runs)
        file_ = med(r.phases[present[-1]]["rss_file_mb"] for r in runs)
        out.append(Stage(name, present, wall, cpu, anon, file_))
    return out


@dataclass
class Summary:
    wall: float
    cpu: float
    peak_mb: float
    anon_peak_mb: float
    file_peak_mb: float
    objects: int
    dump_bytes: int


def summarize(runs):
    return Summary(
        wall=med(r.m.wall for r in runs),
        cpu=med(r.m.cpu for r in runs),
        peak_mb=med(r.m.maxrss_mb for r in runs),
        anon_peak_mb=max(p.get("peak_anon_mb", p["rss_anon_mb"]) for r in runs for p in r.phases.values()),
        file_peak_mb=max(p["rss_file_mb"] for r in runs for p in r.phases.values()),
        objects=runs[0].objects,
        dump_bytes=runs[0].dump_bytes,
    )


def floor(binary, dump, runs):
    note(f"floor {dump.name}: {runs} walks ...")
    m = measure([str(binary), "--runs", str(runs), str(dump)])
    if m.rc != 0:
        fail("floor", m)
    line = next(ln for ln in m.stdout.splitlines() if ln.startswith("floor-median "))
    first = next(ln for ln in m.stdout.splitlines() if ln.startswith("floor "))
    values = dict(KV.findall(line))
    counts = dict(KV.findall(first))
    return {"wall": float(values["wall_ms"]) / 1e3, "mb_s": float(values["mb_s"]),
            "cpu": m.cpu / runs, "maxrss_mb": m.maxrss_mb, "objects": int(counts["objects"]),
            "records": int(counts["records"]), "sub_records": int(counts["sub_records"])}


def hprof_slurp_binary(tools):
    """hprof-slurp from PATH or --tools, installed there from crates.io when missing."""
    found = shutil.which("hprof-slurp")
    if found:
        return Path(found)
    binary = Path(tools) / "bin" / "hprof-slurp"
    if not binary.exists():
        note(f"installing hprof-slurp under {tools} (cargo install, a few minutes) ...")
        env = dict(os.environ)
        env.pop("CARGO_TARGET_DIR", None)  # cargo install then builds in a temp dir of its own
        subprocess.run(["cargo", "install", "hprof-slurp", "--locked", "--root", str(tools)],
                       check=True, env=env, stdout=sys.stderr)
    return binary


def hprof_slurp(binary, dump, runs):
    note(f"hprof-slurp {dump.name}: {runs} runs ...")
    ms = [measure([str(binary), str(dump)]) for _ in range(runs)]
    for m in ms:
        if m.rc != 0:
            fail("hprof-slurp", m)
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout
    return {"name": version.strip() or "hprof-slurp", "wall": med(m.wall for m in ms),
            "cpu": med(m.cpu for m in ms), "maxrss_mb": med(m.maxrss_mb for m in ms)}


def visualvm_jar(given):
    if given:
        return Path(given)
    try:
        files = subprocess.run(["dpkg", "-L", "visualvm"], capture_output=True, text=True).stdout
    except FileNotFoundError:
        files = ""
    for f in files.splitlines():
        if f.endswith("org-graalvm-visualvm-lib-jfluid-heap.jar"):
            return Path(f)
    return None


def compile_driver(jar, workdir):
    classes = Path(workdir) / "classes"
    subprocess.run(["javac", "-nowarn", "-cp", str(jar), "-d", str(classes), str(DRIVER)], check=True)
    return classes


def visualvm(jar, classes, dump, timeout, java_heap):
    """One run of the driver; each run indexes from scratch (see VisualVmTop.java)."""
    note(f"VisualVM heap library {dump.name}: timeout {timeout} s ...")
    with tempfile.TemporaryDirectory(prefix="hsbench-visualvm.") as tmp:
        link = Path(tmp) / dump.name
        link.symlink_to(dump.resolve())
        cmd = ["java", f"-Xmx{java_heap}", f"-Djava.io.tmpdir={tmp}",
               "-cp", f"{jar}{os.pathsep}{classes}", "VisualVmTop", str(link), "20"]
        m = measure(cmd, timeout=timeout)
    steps, progress = {}, None
    for line in m.stdout.splitlines():
        kv = dict(KV.findall(line))
        if line.startswith("phase="):
            steps[kv["phase"]] = float(kv["wall_ms"]) / 1e3
        elif line.startswith("progress "):
            progress = kv
    done = m.rc == 0 and "retained" in steps
    if not done and not m.timed_out:
        note(f"VisualVM driver failed (exit {m.rc}): {m.stderr[-1500:]}")
    if m.timed_out:
        status = f"did not finish in {timeout} s"
        if progress:
            # The library reports progress for some steps only.
            done_part = float(progress["step_done"])
            in_step = m.wall - sum(steps.values())  # JVM start-up included
            status += f" (in {progress['phase']} for {in_step:.0f} s"
            status += f", {done_part:.0%} of it done)" if done_part > 0 else ")"
    else:
        status = "done" if done else f"failed (exit {m.rc})"
    return {"name": "VisualVM heap library", "steps": steps, "status": status, "done": done,
            "wall": m.wall, "cpu": m.cpu, "maxrss_mb": m.maxrss_mb}


# --- tables ----------------------------------------------------------------------------


class Table:
    """A titled table, rendered as aligned text or as Markdown."""

    def __init__(self, title, headers, left=(0,)):
        self.title, self.headers, self.rows, self.left = title, headers, [], set(left)

    def add(self, *cells):
        self.rows.append(["" if c is None else str(c) for c in cells])

    def render(self, markdown):
        if markdown:
            lines = [f"**{self.title}**", "", "| " + " | ".join(self.headers) + " |",
                     "|" + "---|" * len(self.headers)]
            lines += ["| " + " | ".join(r) + " |" for r in self.rows]
            return "\n".join(lines) + "\n"
        widths = [max(len(r[i]) for r in [self.headers] + self.rows) for i in range(len(self.headers))]
        fmt = lambda r: "  ".join(c.ljust(w) if i in self.left else c.rjust(w)
                                  for i, (c, w) in enumerate(zip(r, widths)))
        lines = [f"== {self.title}", fmt(self.headers).rstrip()] + [fmt(r).rstrip() for r in self.rows]
        return "\n".join(lines) + "\n"


def ms(x):
    return "-" if x is None else f"{x:,.0f}"


def secs(x):
    return "-" if x is None else f"{x:.2f} s"


def rate(n, seconds, unit=""):
    if not seconds:
        return "-"
    r = n / seconds
    return f"{r / 1e6:.1f} M{unit}" if r >= 1e6 else f"{r / 1e3:.0f} k{unit}"


def ratio(a, b):
    return "-" if not a or not b else f"{a / b:.2f}"


def stage_table(title, runs):
    s = summarize(runs)
    t = Table(title, ["stage", "wall ms", "CPU ms", "MB/s", "objects/s", "anon MB", "file MB",
                      "heapsleuth phases"], left=(0, 7))
    for st in stages(runs):
        sec = st.wall_ms / 1e3
        mb_s = f"{s.dump_bytes / 1e6 / sec:,.0f}" if sec else "-"
        t.add(st.name, ms(st.wall_ms), ms(st.cpu_ms), mb_s, rate(s.objects, sec), ms(st.anon_mb),
              ms(st.file_mb), ", ".join(st.phases))
    t.add("total (wait4)", ms(s.wall * 1e3), ms(s.cpu * 1e3), f"{s.dump_bytes / 1e6 / s.wall:,.0f}",
          rate(s.objects, s.wall), ms(s.anon_peak_mb), ms(s.file_peak_mb), "peak of the stages' peaks")
    return t


def compare_table(title, base_label, base, other_label, other):
    t = Table(title, ["stage", f"{base_label} ms", f"{other_label} ms", f"{other_label} / {base_label}"])
    b = {st.name: st for st in stages(base)}
    for st in stages(other):
        bw = b[st.name].wall_ms if st.name in b else None
        t.add(st.name, ms(bw), ms(st.wall_ms), ratio(st.wall_ms, bw))
    sb, so = summarize(base), summarize(other)
    t.add("total (wait4)", ms(sb.wall * 1e3), ms(so.wall * 1e3), ratio(so.wall, sb.wall))
    return t


# --- the session -----------------------------------------------------------------------


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sizes", nargs="*", metavar="SIZE", help="2m, 10m or 30m (default: 2m 10m)")
    ap.add_argument("--dir", default=tempfile.gettempdir(), help="where the dumps are (default: %(default)s)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per tool and dump (default: 3)")
    ap.add_argument("--threads", type=int, help="heapsleuth --threads (default: all cores)")
    ap.add_argument("--compare-threads", action="store_true", help="also run heapsleuth with --threads 1")
    ap.add_argument("--gzip", default="", metavar="SIZES",
                    help="comma-separated SIZEs to also run as bench-SIZE.hprof.gz (made when missing)")
    ap.add_argument("--peers", default=",".join(PEERS), help="comma-separated: hprof-slurp, visualvm, or none")
    ap.add_argument("--timeout", type=float, default=600, help="VisualVM's time limit in s (default: 600)")
    ap.add_argument("--tools", default=str(Path.home() / ".cache" / "heapsleuth-bench"),
                    help="where hprof-slurp is installed when missing (default: %(default)s)")
    ap.add_argument("--visualvm-jar", help="the jfluid-heap jar (default: found with dpkg -L visualvm)")
    ap.add_argument("--java-heap", default="4g", help="the VisualVM driver's -Xmx (default: 4g)")
    ap.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    args = ap.parse_args()
    args.sizes = args.sizes or ["2m", "10m"]
    for s in args.sizes:
        if s not in SIZES:
            ap.error(f"SIZE must be one of {', '.join(SIZES)}, not {s!r}")
    args.gzip = [g for g in args.gzip.split(",") if g]
    for g in args.gzip:
        if g not in args.sizes:
            ap.error(f"--gzip {g}: not among the SIZEs benchmarked ({' '.join(args.sizes)})")
    args.peers = [] if args.peers == "none" else [p for p in args.peers.split(",") if p]
    for p in args.peers:
        if p not in PEERS:
            ap.error(f"unknown peer {p!r}: {', '.join(PEERS)} or none")
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    return args


def main():
    args = parse_args()
    hs_bin, floor_bin = build()
    slurp_bin = hprof_slurp_binary(args.tools) if "hprof-slurp" in args.peers else None
    jar = classes = None
    workdir = tempfile.TemporaryDirectory(prefix="hsbench.")
    if "visualvm" in args.peers:
        jar = visualvm_jar(args.visualvm_jar)
        if jar is None or not jar.exists() or not shutil.which("javac"):
            note("VisualVM's heap library or javac not found (apt-get install visualvm "
                 "openjdk-17-jdk-headless, or --visualvm-jar JAR): VisualVM skipped")
            jar = None
        else:
            classes = compile_driver(jar, workdir.name)

    emit = lambda table: print(table.render(args.markdown), flush=True)
    print(f"heapsleuth {hs_bin}; {os.cpu_count()} cores; {args.runs} runs per tool, medians; "
          f"{time.strftime('%Y-%m-%d %H:%M %Z')}\n", flush=True)
    overview = Table("heapsleuth analyze, whole runs", [
        "dump", "objects", "file", "wall", "CPU", "objects/s", "MB/s", "peak RSS",
        "anonymous peak", "file pages peak"])
    peers = Table("floor and peers, same dumps, same session", [
        "dump", "tool", "computes", "wall", "CPU", "MB/s", "peak RSS", "heapsleuth / tool wall",
        "heapsleuth / tool RSS"], left=(0, 1, 2))
    vvm = Table("VisualVM heap library, step by step", ["dump"] + [f"{s} s" for s in VISUALVM_STEPS]
                + ["wall", "peak RSS", "status"], left=(0, 8))

    for size in args.sizes:
        dump = ensure_dump(size, args.dir)
        heapsleuth(hs_bin, dump, args.threads)  # loads the page cache; not counted
        runs = heapsleuth_runs(hs_bin, dump, args.runs, args.threads)
        s = summarize(runs)
        mb = s.dump_bytes / 1e6
        emit(stage_table(f"heapsleuth analyze {size}: {dump} ({mb:,.0f} MB, {s.objects:,} objects)", runs))
        overview.add(size, f"{s.objects:,}", f"{mb:,.0f} MB", secs(s.wall), secs(s.cpu),
                     rate(s.objects, s.wall), f"{mb / s.wall:,.0f}", f"{s.peak_mb:,.0f} MB",
                     f"{s.anon_peak_mb:,.0f} MB ({s.anon_peak_mb * 1e6 / s.objects:.0f} B/object)",
                     f"{s.file_peak_mb:,.0f} MB")

        f = floor(floor_bin, dump, args.runs)
        peers.add(size, "heapsleuth analyze", "everything", secs(s.wall), secs(s.cpu),
                  f"{mb / s.wall:,.0f}", f"{s.peak_mb:,.0f} MB", "1.00", "1.00")
        peers.add(size, "floor (benches/floor.rs)", "record walk", secs(f["wall"]), secs(f["cpu"]),
                  f"{f['mb_s']:,.0f}", f"{f['maxrss_mb']:,.0f} MB", ratio(s.wall, f["wall"]),
                  ratio(s.peak_mb, f["maxrss_mb"]))
        if slurp_bin:
            p = hprof_slurp(slurp_bin, dump, args.runs)
            peers.add(size, p["name"], "shallow histogram", secs(p["wall"]), secs(p["cpu"]),
                      f"{mb / p['wall']:,.0f}", f"{p['maxrss_mb']:,.0f} MB", ratio(s.wall, p["wall"]),
                      ratio(s.peak_mb, p["maxrss_mb"]))
        if jar:
            v = visualvm(jar, classes, dump, args.timeout, args.java_heap)
            vvm.add(size, *[secs(v["steps"].get(st)).removesuffix(" s") for st in VISUALVM_STEPS],
                    secs(v["wall"]), f"{v['maxrss_mb']:,.0f} MB", v["status"])
            peers.add(size, v["name"], "retained sizes, top 20",
                      secs(v["wall"]) if v["done"] else f"> {args.timeout:.0f} s" if "did not" in v["status"]
                      else "failed", secs(v["cpu"]), f"{mb / v['wall']:,.0f}" if v["done"] else "-",
                      f"{v['maxrss_mb']:,.0f} MB",
                      ratio(s.wall, v["wall"]) if v["done"] else f"< {s.wall / v['wall']:.3f}",
                      ratio(s.peak_mb, v["maxrss_mb"]))

        if args.compare_threads:
            one = heapsleuth_runs(hs_bin, dump, args.runs, 1, " --threads 1")
            label = f"--threads {args.threads}" if args.threads else f"default ({os.cpu_count()})"
            emit(compare_table(f"{size}: --threads 1 against {label}", "default", runs, "1 thread", one))
        if size in args.gzip:
            gz = ensure_dump(size, args.dir, gz=True)
            heapsleuth(hs_bin, gz, args.threads)
            gzr = heapsleuth_runs(hs_bin, gz, args.runs, args.threads)
            gzmb = gz.stat().st_size / 1e6
            emit(compare_table(f"{size}: {gz.name} ({gzmb:,.0f} MB) against the plain dump",
                               "plain", runs, "gz", gzr))

    emit(overview)
    emit(peers)
    if jar:
        emit(vvm)
    workdir.cleanup()


if __name__ == "__main__":
    main()
