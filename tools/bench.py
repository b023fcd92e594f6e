#!/usr/bin/python3
"""End-to-end load tool: uploads N generated photos at concurrency C to a
running photo-pipeline (./scripts/run.sh), listens on processed_images and
prints uploads/s, completed/s, p50/p95/p99 upload-to-event latency, CPU ms
per image per process (from /proc) and peak RSS, lost and duplicate counts.

  tools/bench.py -n 100 -c 8 --mp 12            # against ./scripts/run.sh
  tools/bench.py -n 40 -c 40 --mp 12 --json out.json

Processes are found from var/run/*.pid (and the RabbitMQ beam from
var/rabbitmq); only loopback is contacted; it stops by itself.
"""
import argparse
import glob
import json
import os
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import pp  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_ms(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000.0 / CLK_TCK
    except OSError:
        return None


def proc_peak_rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None


def find_processes(var_dir):
    procs = {}
    for f in sorted(glob.glob(os.path.join(var_dir, "run", "*.pid"))):
        name = os.path.basename(f)[:-4]
        try:
            procs[name] = int(open(f).read().strip())
        except ValueError:
            pass
    for f in glob.glob(os.path.join(var_dir, "rabbitmq", "*.pid")):
        try:
            pid = int(open(f).read().strip())
            if os.path.exists(f"/proc/{pid}/cmdline") and b"beam" in open(f"/proc/{pid}/cmdline", "rb").read():
                procs["rabbitmq"] = pid
        except (ValueError, OSError):
            pass
    return procs


def percentile(values, p):
    if not values:
        return None
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=50, help="uploads")
    ap.add_argument("-c", type=int, default=4, help="concurrent uploads")
    ap.add_argument("--mp", type=float, default=12, help="megapixels per photo (4:3)")
    ap.add_argument("--variants", type=int, default=4, help="distinct generated photos")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "photo-pipeline"))
    ap.add_argument("--amqp-url", default=os.environ.get("PHOTO_PIPELINE_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"))
    ap.add_argument("--var", default=os.path.join(REPO, "var"))
    ap.add_argument("--timeout", type=float, default=600, help="seconds to wait for events")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()

    width = int((args.mp * 1e6 * 4 / 3) ** 0.5)
    height = int(width * 3 / 4)
    print(f"generating {args.variants} photos {width}x{height} ...", file=sys.stderr)
    photos = [pp.make_jpeg(width, height, seed=s, quality=90) for s in range(args.variants)]
    api = pp.Api(args.port, timeout=120)
    if not api.wait_ready(10):
        sys.exit("API not ready on port %d (start it with ./scripts/run.sh)" % args.port)

    env = dict(os.environ, PHOTO_PIPELINE_AMQP_URL=args.amqp_url)
    queue = "events.bench-" + uuid.uuid4().hex[:8]
    listener = pp.EventListener(args.bin, queue, env)
    procs = find_processes(args.var)
    cpu0 = {n: proc_cpu_ms(p) for n, p in procs.items()}

    sent = {}      # id -> time the upload started
    accepted = {}  # id -> time of the 202
    errors = {}
    lock = threading.Lock()
    done = [0]

    def one(i):
        data = photos[i % len(photos)]
        t0 = time.time()
        try:
            status, _, body = api.upload(data, filename=f"bench-{i}.jpg")
        except OSError as e:
            status, body = -1, str(e).encode()
        t1 = time.time()
        with lock:
            done[0] += 1
            if status == 202:
                iid = json.loads(body)["id"]
                sent[iid] = t0
                accepted[iid] = t1
            else:
                errors[status] = errors.get(status, 0) + 1
            if done[0] % max(1, args.n // 50) == 0 or done[0] == args.n:
                bar = "#" * (40 * done[0] // args.n)
                print(f"\r  upload [{bar:<40}] {done[0]}/{args.n}", end="", file=sys.stderr)

    t_start = time.time()
    with ThreadPoolExecutor(args.c) as ex:
        list(ex.map(one, range(args.n)))
    t_uploaded = time.time()
    print(file=sys.stderr)
    ids = set(sent)

    def progress(evs):
        got = len({e["id"] for e in evs if e.get("id") in ids})
        print(f"\r  events [{'#' * (40 * got // max(1, len(ids))):<40}] {got}/{len(ids)}", end="", file=sys.stderr)
        return got >= len(ids)

    listener.wait_for(progress, args.timeout)
    print(file=sys.stderr)
    t_end = time.time()
    cpu1 = {n: proc_cpu_ms(p) for n, p in procs.items()}
    rss = {n: proc_peak_rss_mb(p) for n, p in procs.items()}
    listener.stop()

    first = {}
    dup = 0
    for e in listener.events:
        if e.get("id") in ids:
            if e["id"] in first:
                dup += 1
            else:
                first[e["id"]] = e
    completed = [i for i, e in first.items() if e.get("status") == "completed"]
    failed = [i for i, e in first.items() if e.get("status") == "failed"]
    lat = [first[i]["_received"] - sent[i] for i in first]
    last_event = max((e["_received"] for e in first.values()), default=t_end)
    n_ok = len(completed)
    cpu = {}
    for n in procs:
        if cpu0.get(n) is not None and cpu1.get(n) is not None:
            cpu[n] = (cpu1[n] - cpu0[n]) / max(1, n_ok)
    res = {
        "photo": f"{width}x{height}", "uploads": args.n, "concurrency": args.c,
        "accepted": len(ids), "rejected": errors, "completed": n_ok, "failed": len(failed),
        "lost": len(ids) - len(first), "duplicate_events": dup,
        "uploads_per_s": len(ids) / max(1e-9, t_uploaded - t_start),
        "completed_per_s": n_ok / max(1e-9, last_event - t_start),
        "latency_s": {"p50": percentile(lat, 50), "p95": percentile(lat, 95), "p99": percentile(lat, 99)},
        "cpu_ms_per_image": cpu, "cpu_ms_per_image_total": sum(cpu.values()),
        "peak_rss_mb": rss,
    }
    print(f"photos {res['photo']}  n={args.n} c={args.c}")
    print(f"accepted {res['accepted']}  completed {n_ok}  failed {len(failed)}  lost {res['lost']}  "
          f"duplicate events {dup}  rejected {errors}")
    print(f"uploads/s {res['uploads_per_s']:.1f}   completed/s {res['completed_per_s']:.2f}")
    l = res["latency_s"]
    if lat:
        print(f"upload-to-event latency  p50 {l['p50']:.2f}s  p95 {l['p95']:.2f}s  p99 {l['p99']:.2f}s")
    print("CPU ms per image by process (and peak RSS):")
    for n in sorted(cpu):
        print(f"  {n:<22} {cpu[n]:8.1f} ms   {rss.get(n) or 0:7.1f} MB")
    print(f"  {'total':<22} {res['cpu_ms_per_image_total']:8.1f} ms")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0 if res["lost"] == 0 and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
