#!/usr/bin/python3
"""End-to-end load tool: uploads N generated photos at concurrency C to a
running photo-pipeline (./scripts/run.sh), listens on processed_images and
prints uploads/s, completed/s, p50/p95/p99 upload-to-event latency, CPU ms
per image per process (from /proc) and peak RSS, lost and duplicate counts.

  tools/bench.py -n 100 -c 8 --mp 12            # against ./scripts/run.sh
  tools/bench.py -n 40 -c 40 --mp 12 --json out.json
  tools/bench.py -n 40 -c 4 --photo real.jpg     # a real photo (tools/bench-real.sh makes one)
  tools/bench.py --api-only -n 3000 -c 16 --kb 200   # API alone (no workers needed)

--api-only uploads one generated JPEG of about --kb kB n times at concurrency c
over persistent connections (one raw keep-alive socket per client thread, the
multipart request prebuilt once) and prints uploads/s, p50/p95/p99 upload
latency (send to 202), CPU ms per upload of the API, the broker and the load
generator itself, and the rejected counts; it does not wait for events. Before
the uploads it measures its reference in the same run: --reference-n GET
/healthz requests over the same kind of sockets at the same concurrency (the
HTTP layer alone, no disk or broker), printed as req/s and API CPU per request.
--verify then checks that every accepted id has its record in the SQLite store
(--db) and that the `resize` queue grew by exactly the accepted count.

Processes are found from var/run/*.pid (and the RabbitMQ beam from
var/rabbitmq, the S3 gateway's daemons from var/s3/run); only loopback is
contacted; it stops by itself.
"""
import argparse
import glob
import json
import os
import socket
import subprocess
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
    # The S3 gateway of PHOTO_STORAGE=s3 (scripts/s3.sh): its CPU is part of
    # what an image costs.
    for daemon, name in (("mon.a", "s3-mon"), ("osd.0", "s3-osd"), ("client.rgw", "s3-gateway")):
        try:
            procs[name] = int(open(os.path.join(var_dir, "s3", "run", daemon + ".pid")).read().strip())
        except (OSError, ValueError):
            pass
    for f in glob.glob(os.path.join(var_dir, "rabbitmq", "*.pid")):
        try:
            pid = int(open(f).read().strip())
            if os.path.exists(f"/proc/{pid}/cmdline") and b"beam" in open(f"/proc/{pid}/cmdline", "rb").read():
                procs["rabbitmq"] = pid
        except (ValueError, OSError):
            pass
    return procs


def print_cpu_table(title, cpu, fmt, rss=None):
    """One line per process: CPU ms (per upload or per image), and peak RSS if given."""
    print(title)
    for n in sorted(cpu):
        extra = f"   {rss.get(n) or 0:7.1f} MB" if rss is not None else ""
        print(f"  {n:<22} {cpu[n]:{fmt}} ms{extra}")


def percentile(values, p):
    if not values:
        return None
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


def make_photo_of_kb(kb, seed=0):
    """A generated JPEG (Q90, 4:3) of roughly `kb` kilobytes."""
    width = 1000
    data = b""
    for _ in range(4):
        data = pp.make_jpeg(width, width * 3 // 4, seed=seed, quality=90)
        ratio = kb * 1000.0 / len(data)
        if abs(ratio - 1) < 0.03:
            break
        width = max(64, int(width * ratio ** 0.5))
    return width, width * 3 // 4, data


class RawClient:
    """One keep-alive HTTP/1.1 connection sending a prebuilt request; leaner
    than http.client (no header objects, one sendall per request)."""

    def __init__(self, port, timeout):
        self.port, self.timeout, self.sock, self.buf = port, timeout, None, b""

    def _connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def send(self, request):
        """-> (status, body). Reconnects once if the server closed an idle connection."""
        for attempt in (0, 1):
            if self.sock is None:
                self._connect()
            try:
                self.sock.sendall(request)
                return self._read_response()
            except (ConnectionError, EOFError):
                self.close()
                if attempt:
                    raise

    def _read_response(self):
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length, close = 0, False
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            k = k.strip().lower()
            if k == b"content-length":
                length = int(v)
            elif k == b"connection" and v.strip().lower() == b"close":
                close = True
        while len(self.buf) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        body, self.buf = self.buf[:length], self.buf[length:]
        if close:
            self.close()
        return status, body


def queue_depth(queue):
    """Messages in `queue` per rabbitmqctl on the node of PHOTO_RMQ_* (None if unknown)."""
    try:
        out = subprocess.run([os.path.join(REPO, "scripts", "rabbitmq.sh"), "ctl", "list_queues",
                              "-q", "name", "messages"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == queue:
            return int(parts[1])
    return None


def run_clients(port, request, n, c, ok_status, procs, keep_body=False):
    """Sends `request` n times from c keep-alive clients; -> wall s, latencies
    of the `ok_status` answers, their bodies (keep_body), other statuses
    counted, CPU ms per ok answer by process (this client included)."""
    lat, bodies, errors = [], [], {}
    lock = threading.Lock()
    next_i = [0]

    def client():
        conn = RawClient(port, 120)
        my_lat, my_bodies, my_err = [], [], {}
        while True:
            with lock:
                if next_i[0] >= n:
                    break
                next_i[0] += 1
            t0 = time.perf_counter()
            try:
                status, resp = conn.send(request)
            except OSError as e:
                status, resp = -1, str(e).encode()
                conn.close()
            t1 = time.perf_counter()
            if status == ok_status:
                my_lat.append(t1 - t0)
                if keep_body:
                    my_bodies.append(resp)
            else:
                my_err[status] = my_err.get(status, 0) + 1
        conn.close()
        with lock:
            lat.extend(my_lat)
            bodies.extend(my_bodies)
            for k, v in my_err.items():
                errors[k] = errors.get(k, 0) + v

    cpu0 = {name: proc_cpu_ms(p) for name, p in procs.items()}
    self0 = os.times()
    t_start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(c)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t_start
    self1 = os.times()
    cpu1 = {name: proc_cpu_ms(p) for name, p in procs.items()}
    ok = len(lat)
    cpu = {name: (cpu1[name] - cpu0[name]) / max(1, ok) for name in procs
           if cpu0.get(name) is not None and cpu1.get(name) is not None}
    cpu["bench (this client)"] = ((self1.user - self0.user) + (self1.system - self0.system)) * 1000 / max(1, ok)
    return {"wall": wall, "lat": lat, "bodies": bodies, "errors": errors, "cpu": cpu, "ok": ok}


def api_only(args):
    width, height, photo = make_photo_of_kb(args.kb)
    print(f"one photo {width}x{height}, {len(photo)} bytes", file=sys.stderr)
    body, ctype = pp.multipart([("file", "bench.jpg", photo, "image/jpeg")])
    request = (f"POST /upload/ HTTP/1.1\r\nHost: 127.0.0.1:{args.port}\r\n"
               f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    api = pp.Api(args.port, timeout=30)
    if not api.wait_ready(10):
        sys.exit("API not ready on port %d" % args.port)
    procs = find_processes(args.var)
    depth0 = queue_depth("resize") if args.verify else None
    if args.warmup:
        c = RawClient(args.port, 60)
        for _ in range(args.warmup):
            c.send(request)
        c.close()
        if args.verify:
            depth0 = queue_depth("resize")

    # The reference, in the same run and on the same kind of sockets: GET
    # /healthz (no disk, no store, no broker) at the same concurrency. It
    # shows how fast this machine serves HTTP right now, so an upload rate
    # can be read against the load it was measured under.
    ref = None
    if args.reference_n:
        ping = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{args.port}\r\n\r\n".encode()
        r = run_clients(args.port, ping, args.reference_n, args.c, 200, procs)
        ref = {"requests": args.reference_n, "ok": r["ok"], "per_s": r["ok"] / max(1e-9, r["wall"]),
               "p50_ms": 1000 * percentile(r["lat"], 50) if r["lat"] else None,
               "api_cpu_ms_per_request": r["cpu"].get("api")}

    r = run_clients(args.port, request, args.n, args.c, 202, procs, keep_body=True)
    wall, lat, errors, cpu = r["wall"], r["lat"], r["errors"], r["cpu"]
    ids = [json.loads(b)["id"] for b in r["bodies"]]
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]

    n_ok = len(ids)
    res = {
        "mode": "api-only", "photo": f"{width}x{height}", "photo_bytes": len(photo),
        "uploads": args.n, "concurrency": args.c, "accepted": n_ok, "rejected": errors,
        "wall_s": wall, "uploads_per_s": n_ok / max(1e-9, wall),
        "latency_ms": {p: 1000 * percentile(lat, q) if lat else None
                       for p, q in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))},
        "cpu_ms_per_upload": cpu, "loadavg": load, "reference_healthz": ref,
    }
    print(f"api-only  photo {res['photo']} {len(photo)} B  n={args.n} c={args.c}  loadavg {' '.join(load)}")
    print(f"accepted {n_ok}  rejected {errors}  in {wall:.2f}s  ->  {res['uploads_per_s']:.1f} uploads/s")
    l = res["latency_ms"]
    if lat:
        print(f"upload latency  p50 {l['p50']:.1f} ms  p95 {l['p95']:.1f} ms  p99 {l['p99']:.1f} ms  max {l['max']:.1f} ms")
    print_cpu_table("CPU ms per accepted upload by process:", cpu, "8.2f")
    if ref:
        cpu_ref = ref["api_cpu_ms_per_request"]
        print(f"reference (same run): GET /healthz x{ref['requests']} at c={args.c}: {ref['per_s']:.0f} req/s, "
              f"p50 {ref['p50_ms']:.1f} ms, API CPU {cpu_ref if cpu_ref is None else round(cpu_ref, 3)} ms per request")
    ok = n_ok == args.n
    if args.verify:
        import sqlite3
        missing = []
        db = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True, timeout=30)
        try:
            for iid in ids:
                if db.execute("SELECT 1 FROM images WHERE id = ?", (iid,)).fetchone() is None:
                    missing.append(iid)
        finally:
            db.close()
        depth1 = queue_depth("resize")
        grew = None if depth0 is None or depth1 is None else depth1 - depth0
        res["verify"] = {"records_missing": len(missing), "resize_queue_before": depth0,
                         "resize_queue_after": depth1, "resize_queue_grew": grew}
        print(f"verify: records missing {len(missing)} of {n_ok}; resize queue {depth0} -> {depth1} "
              f"(+{grew}, accepted {n_ok})")
        ok = ok and not missing and grew == n_ok
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=50, help="uploads")
    ap.add_argument("-c", type=int, default=4, help="concurrent uploads")
    ap.add_argument("--mp", type=float, default=12, help="megapixels per photo (4:3)")
    ap.add_argument("--variants", type=int, default=4, help="distinct generated photos")
    ap.add_argument("--photo", action="append",
                    help="upload this file instead of generated photos (repeat for several)")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "photo-pipeline"))
    ap.add_argument("--amqp-url", default=os.environ.get("PHOTO_PIPELINE_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"))
    ap.add_argument("--var", default=os.path.join(REPO, "var"))
    ap.add_argument("--timeout", type=float, default=600, help="seconds to wait for events")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--api-only", action="store_true", help="upload only: no events, see above")
    ap.add_argument("--kb", type=float, default=200, help="--api-only: size of the one photo in kB")
    ap.add_argument("--warmup", type=int, default=20, help="--api-only: uploads before measuring")
    ap.add_argument("--reference-n", type=int, default=4000,
                    help="--api-only: GET /healthz requests measured first, as the same-run reference (0 = none)")
    ap.add_argument("--verify", action="store_true",
                    help="--api-only: check records (--db) and the resize queue depth (rabbitmqctl)")
    ap.add_argument("--db", default=None, help="SQLite file (default <var>/data/photo-pipeline.db)")
    args = ap.parse_args()
    if args.db is None:
        args.db = os.path.join(args.var, "data", "photo-pipeline.db")
    if args.api_only:
        return api_only(args)

    if args.photo:
        photos = [open(f, "rb").read() for f in args.photo]
        label = ", ".join(f"{os.path.basename(f)} ({len(b)} B)" for f, b in zip(args.photo, photos))
    else:
        width = int((args.mp * 1e6 * 4 / 3) ** 0.5)
        height = int(width * 3 / 4)
        print(f"generating {args.variants} photos {width}x{height} ...", file=sys.stderr)
        photos = [pp.make_jpeg(width, height, seed=s, quality=90) for s in range(args.variants)]
        label = f"{args.variants} generated {width}x{height}"
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
        "photo": label, "uploads": args.n, "concurrency": args.c,
        "accepted": len(ids), "rejected": errors, "completed": n_ok, "failed": len(failed),
        "lost": len(ids) - len(first), "duplicate_events": dup,
        "uploads_per_s": len(ids) / max(1e-9, t_uploaded - t_start),
        "completed_per_s": n_ok / max(1e-9, last_event - t_start),
        "latency_s": {"p50": percentile(lat, 50), "p95": percentile(lat, 95), "p99": percentile(lat, 99)},
        "cpu_ms_per_image": cpu, "cpu_ms_per_image_total": sum(cpu.values()),
        "peak_rss_mb": rss, "loadavg": open("/proc/loadavg").read().split()[:3],
    }
    print(f"photos {res['photo']}  n={args.n} c={args.c}  loadavg {' '.join(res['loadavg'])}")
    print(f"accepted {res['accepted']}  completed {n_ok}  failed {len(failed)}  lost {res['lost']}  "
          f"duplicate events {dup}  rejected {errors}")
    print(f"uploads/s {res['uploads_per_s']:.1f}   completed/s {res['completed_per_s']:.2f}")
    l = res["latency_s"]
    if lat:
        print(f"upload-to-event latency  p50 {l['p50']:.2f}s  p95 {l['p95']:.2f}s  p99 {l['p99']:.2f}s")
    print_cpu_table("CPU ms per image by process (and peak RSS):", cpu, "8.1f", rss)
    print(f"  {'total':<22} {res['cpu_ms_per_image_total']:8.1f} ms")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0 if res["lost"] == 0 and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
