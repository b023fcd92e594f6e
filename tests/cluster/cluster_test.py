#!/usr/bin/python3
"""Three-host test: the pipeline on three "hosts" (network namespaces joined
by a bridge, each with its own empty data folder) with a 3-node RabbitMQ
cluster and quorum queues, under the loss of a host, of a broker node and of
a host's network. Needs root (ip netns); exits 77 (ctest: skipped) without.

  host 1 (198.18.K.1): RabbitMQ node 1, the S3 gateway, PostgreSQL, the API
  host 2 (198.18.K.2): RabbitMQ node 2, one worker per stage
  host 3 (198.18.K.3): RabbitMQ node 3, one worker per stage

This script (the root namespace, 198.18.K.254 on the bridge) uploads through
the API and listens to processed_images with `photo-pipeline events`. It
prints a table like the fault test's:

  1 steady       300 uploads: all complete; every rendition downloads through
                 the API; the bucket holds them; no worker host's folder holds
                 an image afterwards
  2 host2-kill9  every process of host 2 (its RabbitMQ node and workers)
                 kill -9'ed mid-load, then the host restarted: lost 0
  3 leader-kill9 the node holding the `resize` queue's leader kill -9'ed
                 mid-load, then restarted: lost 0
  4 host3-cut    host 3's link down for 20 s mid-load, then up: lost 0, and
                 every duplicate event repeats an event_id already seen

Storage: --storage s3 (every host talks to the gateway on host 1; nothing is
shared through the disk) or --storage shared-dir (all hosts use one local
folder, a stand-in where S3 is unavailable: the broker faults are the same,
but the bucket and the hosts' own folders are not checked, which the notes
under the table and its title say).

Everything started here is stopped by PID (the RabbitMQ nodes by the PIDs
scripts/rabbitmq.sh recorded, PostgreSQL by pg_ctl), what is left in the
namespaces is SIGKILLed by PID (`ip netns pids`), then the namespaces and the
bridge are deleted, also when the run fails or times out.

usage: cluster_test.py --bin build/photo-pipeline [--uploads 300] [--fault-uploads 150]
                       [--scenarios 1,2,3,4] [--storage s3|shared-dir] [--keep]
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
sys.path.insert(0, os.path.join(REPO, "tests", "fault"))
import pp  # noqa: E402
import fault_test as ft  # noqa: E402

SCRIPTS = os.path.join(REPO, "scripts")
STAGES = ft.STAGES
EVENT_QUEUE = "events.cluster"
API_PORT = 8000
PG_PORT = 55432
AMQP_PORT = 5672
S3_PORT = 7480
SKIP = 77
# Originals are private (admin token or signed link); renditions are public.
ADMIN_TOKEN = "cluster-admin-token"
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"RIFF", b"GIF8")


def log(msg):
    ft.log(msg)


def run(argv, check=True, timeout=300, env=None, quiet=False):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                       stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {r.returncode}: "
                           f"{(r.stderr or r.stdout).strip()[-600:]}")
    if not quiet and r.stderr.strip():
        for line in r.stderr.strip().splitlines()[-3:]:
            log("  " + line)
    return r


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


# ---------------------------------------------------------------------------
# Hosts: network namespaces on a bridge


class Net:
    """Three namespaces ppc<tag>h<i> with veths ppc<tag>v<i> on bridge
    ppc<tag>br; the root namespace gets .254 on the bridge."""

    PREFIX = "ppc"

    def __init__(self, n=3):
        self.tag = f"{self.PREFIX}{os.getpid() % 100000}"
        self.n = n
        self.bridge = self.tag + "br"
        self.ns = [f"{self.tag}h{i}" for i in range(1, n + 1)]
        self.veth = [f"{self.tag}v{i}" for i in range(1, n + 1)]
        self.subnet = None
        self.made = []

    @classmethod
    def remove_stale(cls):
        """Namespaces and links an aborted run left (its PID is gone)."""
        names = run(["ip", "netns", "list"], quiet=True).stdout.split()
        for name in names:
            m = re.fullmatch(cls.PREFIX + r"(\d+)h\d", name)
            if m and not pid_alive(int(m.group(1))):
                for pid in run(["ip", "netns", "pids", name], check=False, quiet=True).stdout.split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except (OSError, ValueError):
                        pass
                run(["ip", "netns", "del", name], check=False, quiet=True)
                log(f"removed stale namespace {name}")
        links = run(["ip", "-o", "link", "show"], quiet=True).stdout
        for m in re.finditer(r"^\d+: (" + cls.PREFIX + r"(\d+)(br|v\d))[@:]", links, re.M):
            if not pid_alive(int(m.group(2))):
                run(["ip", "link", "del", m.group(1)], check=False, quiet=True)

    def pick_subnet(self):
        used = run(["ip", "-4", "-o", "addr", "show"], quiet=True).stdout
        for k in range(0, 256):
            if f" 198.18.{k}." not in used:
                return f"198.18.{k}"
        raise RuntimeError("no free 198.18.K.0/24")

    def ip(self, host):  # host: 1-based
        return f"{self.subnet}.{host}"

    def up(self):
        self.subnet = self.pick_subnet()
        run(["ip", "link", "add", self.bridge, "type", "bridge"])
        self.made.append(("link", self.bridge))
        run(["ip", "link", "set", self.bridge, "up"])
        run(["ip", "addr", "add", f"{self.subnet}.254/24", "dev", self.bridge])
        for i, (ns, veth) in enumerate(zip(self.ns, self.veth), start=1):
            run(["ip", "netns", "add", ns])
            self.made.append(("netns", ns))
            run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns])
            run(["ip", "link", "set", veth, "master", self.bridge, "up"])
            run(["ip", "-n", ns, "addr", "add", f"{self.ip(i)}/24", "dev", "eth0"])
            run(["ip", "-n", ns, "link", "set", "eth0", "up"])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        log(f"hosts {', '.join(f'{ns}={self.ip(i)}' for i, ns in enumerate(self.ns, 1))}, "
            f"bridge {self.bridge}")

    def exec_argv(self, host, argv):
        return ["ip", "netns", "exec", self.ns[host - 1], *argv]

    def pids(self, host):
        r = run(["ip", "netns", "pids", self.ns[host - 1]], check=False, quiet=True)
        return [int(p) for p in r.stdout.split() if p.isdigit()]

    def kill_all(self, host):
        """kill -9 every process of the host (the closest thing to pulling
        its plug). Returns how many."""
        killed = 0
        for _ in range(5):  # a dying wrapper may still fork once
            pids = self.pids(host)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
                except OSError:
                    pass
            time.sleep(0.2)
        return killed

    def link(self, host, up):
        run(["ip", "link", "set", self.veth[host - 1], "up" if up else "down"])

    def down(self):
        for kind, name in reversed(self.made):
            if kind == "netns":
                self.kill_all(self.ns.index(name) + 1)
                run(["ip", "netns", "del", name], check=False, quiet=True)
        for kind, name in self.made:
            if kind == "link":
                run(["ip", "link", "del", name], check=False, quiet=True)
        self.made = []


# ---------------------------------------------------------------------------
# The deployment


class Deployment:
    def __init__(self, args, net, work):
        self.args, self.net, self.work = args, net, work
        self.binary = args.bin
        self.host_dir = {i: os.path.join(work, f"host{i}") for i in (1, 2, 3)}
        for d in self.host_dir.values():
            os.makedirs(d)
        self.log_dir = os.path.join(work, "log")
        os.makedirs(self.log_dir)
        self.shared_dir = os.path.join(work, "shared") if args.storage == "shared-dir" else None
        self.rmq_env = dict(os.environ)
        self.rmq_env.update({
            "PHOTO_RMQC_DIR": os.path.join(work, "rabbitmq-cluster"),
            "PHOTO_RMQC_NODE_DIRS": " ".join(os.path.join(self.host_dir[i], "rabbitmq")
                                             for i in (1, 2, 3)),
            "PHOTO_RMQC_NETNS": " ".join(net.ns),
            "PHOTO_RMQC_IPS": " ".join(net.ip(i) for i in (1, 2, 3)),
            "PHOTO_RMQC_PORT": str(AMQP_PORT),
            "PHOTO_RMQC_WAIT_S": "240",
        })
        self.pg_env = dict(os.environ)
        self.pg_env.update({
            "PHOTO_PG_DIR": os.path.join(self.host_dir[1], "postgres"),
            "PHOTO_PG_PORT": str(PG_PORT),
            "PHOTO_PG_LISTEN": f"127.0.0.1,{net.ip(1)}",
            "PHOTO_PG_TRUST_NET": f"{net.subnet}.0/24",
            "PHOTO_PG_FAST": "1",
        })
        self.s3_env = dict(os.environ)
        self.s3_env.update({
            "PHOTO_S3_DIR": os.path.join(self.host_dir[1], "s3"),
            "PHOTO_S3_PORT": str(S3_PORT),
            "PHOTO_S3_BIND": net.ip(1),
        })
        self.s3_settings = {}
        self.pg_started = False
        self.rmq_started = False
        self.s3_started = False
        urls = ",".join(f"amqp://guest:guest@{net.ip(i)}:{AMQP_PORT}/" for i in (1, 2, 3))
        self.env = dict(os.environ)
        for k in list(self.env):
            if k.startswith("PHOTO_PIPELINE_"):
                del self.env[k]
        self.env.update({
            "PHOTO_PIPELINE_AMQP_URL": urls,
            "PHOTO_PIPELINE_QUEUE_TYPE": "quorum",
            "PHOTO_PIPELINE_EVENT_QUEUES": EVENT_QUEUE,
            "PHOTO_PIPELINE_DB": f"postgresql://postgres@{net.ip(1)}:{PG_PORT}/photo",
            "PHOTO_PIPELINE_METRICS_LISTEN": "",
            "PHOTO_PIPELINE_RETRY_DELAYS_MS": "500,1000,2000",
            # A dead peer is noticed in 2 heartbeats, a cut-off node costs
            # one connect timeout.
            "PHOTO_PIPELINE_AMQP_HEARTBEAT": "10",
            "PHOTO_PIPELINE_AMQP_CONNECT_TIMEOUT_MS": "2000",
            "PHOTO_PIPELINE_LOG_FORMAT": "text",
            "PHOTO_PIPELINE_LOG_LEVEL": "info",
            "PHOTO_PIPELINE_ADMIN_TOKEN": ADMIN_TOKEN,
        })
        self.api = pp.Api(API_PORT, host=net.ip(1), timeout=30)
        self.api_proc = None
        self.workers = []  # (host, Child)
        self.events = None

    # -- pieces -------------------------------------------------------------

    def cluster(self, *argv, check=True, timeout=400):
        return run([os.path.join(SCRIPTS, "rabbitmq-cluster.sh"), *argv], check=check,
                   timeout=timeout, env=self.rmq_env)

    def start_rabbitmq(self):
        """Starts the cluster in the background (the slowest piece: ~35 s on
        a quiet machine, 2 minutes on a busy one); finish_rabbitmq waits."""
        self.rmq_t0 = time.time()
        self.rmq_started = True
        self.rmq_proc = subprocess.Popen([os.path.join(SCRIPTS, "rabbitmq-cluster.sh"), "start"],
                                         env=self.rmq_env, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish_rabbitmq(self):
        out, err = self.rmq_proc.communicate(timeout=400)
        if self.rmq_proc.returncode != 0:
            raise RuntimeError(f"rabbitmq-cluster.sh start exited {self.rmq_proc.returncode}: "
                               f"{err.strip()[-600:]}")
        log(f"RabbitMQ cluster of 3 up in {time.time() - self.rmq_t0:.0f} s")

    def start_postgres(self):
        t = time.time()
        os.makedirs(self.pg_env["PHOTO_PG_DIR"])
        self.pg_started = True
        run(self.net.exec_argv(1, [os.path.join(SCRIPTS, "postgres.sh"), "start"]), env=self.pg_env,
            timeout=120)
        log(f"PostgreSQL on host 1 in {time.time() - t:.0f} s")

    def s3(self, *argv, check=True, timeout=300):
        return run(self.net.exec_argv(1, [os.path.join(SCRIPTS, "s3.sh"), *argv]), env=self.s3_env,
                   check=check, timeout=timeout)

    def start_s3(self):
        t = time.time()
        self.s3_started = True
        self.s3("start")
        for line in self.s3("env").stdout.splitlines():
            k, sep, v = line.partition("=")
            if sep:
                self.s3_settings[k.strip()] = v.strip()
        self.env.update(self.s3_settings)
        log(f"S3 gateway on host 1 in {time.time() - t:.0f} s: "
            f"{self.s3_settings.get('PHOTO_PIPELINE_S3_ENDPOINT')}")

    def bucket_keys(self):
        """Every key in the bucket (ListObjectsV2, signed by curl's SigV4)."""
        bucket = self.s3_settings["PHOTO_PIPELINE_STORAGE"][len("s3://"):].split("/", 1)[0]
        endpoint = self.s3_settings["PHOTO_PIPELINE_S3_ENDPOINT"]
        ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
        keys, token = [], None
        for _ in range(1000):
            query = "list-type=2&max-keys=1000"
            if token:
                query = ("continuation-token=" + urllib.parse.quote(token, safe="") + "&" + query)
            r = run(["curl", "-sS", "--fail", "-m", "60", "--aws-sigv4",
                     f"aws:amz:{self.s3_settings.get('PHOTO_PIPELINE_S3_REGION', 'us-east-1')}:s3",
                     "--user", f"{self.s3_settings['AWS_ACCESS_KEY_ID']}:"
                               f"{self.s3_settings['AWS_SECRET_ACCESS_KEY']}",
                     "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
                     f"{endpoint}/{bucket}?{query}"], timeout=90)
            root = ET.fromstring(r.stdout)
            keys += [e.text for e in root.iter(ns + "Key")]
            token = root.findtext(ns + "NextContinuationToken")
            if root.findtext(ns + "IsTruncated") != "true" or not token:
                return keys
        raise RuntimeError("bucket listing did not end")

    def host_env(self, host):
        env = dict(self.env)
        data = self.shared_dir or os.path.join(self.host_dir[host], "data")
        env["PHOTO_PIPELINE_DATA_DIR"] = data
        os.makedirs(data, exist_ok=True)
        return env

    def start_api(self):
        env = self.host_env(1)
        env["PHOTO_PIPELINE_LISTEN"] = f"{self.net.ip(1)}:{API_PORT}"
        self.api_proc = ft.Child("api", self.net.exec_argv(1, [self.binary, "api"]), env,
                                 self.log_dir)
        if not self.api.wait_ready(120):
            raise RuntimeError("API not ready; see " + self.api_proc.log_path)

    def start_workers(self, host):
        env = self.host_env(host)
        new = []
        for stage in STAGES:
            w = ft.Child(f"h{host}-{stage}-{len(self.workers)}",
                         self.net.exec_argv(host, [self.binary, "worker", stage]), env,
                         self.log_dir)
            w.stage, w.host = stage, host
            self.workers.append(w)
            new.append(w)
        return new

    def wait_consuming(self, workers, timeout=120):
        deadline = time.time() + timeout
        for w in workers:
            while True:
                if not w.alive():
                    raise RuntimeError(f"{w.name} exited; see {w.log_path}")
                with open(w.log_path, "rb") as f:
                    if b"consuming (prefetch" in f.read():
                        break
                if time.time() > deadline:
                    raise RuntimeError(f"{w.name} not consuming after {timeout} s")
                time.sleep(0.2)

    def start_events(self):
        env = dict(self.env)
        env["PHOTO_PIPELINE_DATA_DIR"] = os.path.join(self.work, "listener")
        self.events = ft.Listener(self.binary, EVENT_QUEUE, env)

    def start(self):
        self.start_rabbitmq()
        self.start_postgres()
        if self.args.storage == "s3":
            self.start_s3()
        self.finish_rabbitmq()
        self.start_events()
        self.start_api()
        workers = self.start_workers(2) + self.start_workers(3)
        self.wait_consuming(workers)
        log("API on host 1, a worker per stage on hosts 2 and 3, consuming")

    def running_nodes(self):
        r = self.cluster("running", "1", check=False, timeout=120)
        try:
            return int(r.stdout.strip() or 0)
        except ValueError:
            return 0

    def wait_cluster_whole(self, timeout=180):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.running_nodes() == 3:
                return True
            time.sleep(2)
        return False

    def stop(self):
        codes = {}
        if self.events:
            self.events.stop()
        for w in self.workers:
            codes[w.name] = w.stop(signal.SIGTERM, timeout=40)
        if self.api_proc:
            codes["api"] = self.api_proc.stop(signal.SIGTERM, timeout=40)
        if self.rmq_started:
            if self.rmq_proc.poll() is None:  # aborted while the cluster was starting
                self.rmq_proc.kill()
                self.rmq_proc.wait()
            self.cluster("stop", check=False, timeout=300)
        if self.pg_started:
            run(self.net.exec_argv(1, [os.path.join(SCRIPTS, "postgres.sh"), "stop"]),
                env=self.pg_env, check=False, timeout=120)
        if self.s3_started:
            self.s3("stop", check=False)
        return codes


# ---------------------------------------------------------------------------
# Checks


def images_under(folder, skip=()):
    """Files under `folder` (not below the `skip` folders) that start like an image."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if os.path.join(root, d) not in skip]
        for name in files:
            path = os.path.join(root, name)
            try:
                with open(path, "rb") as f:
                    head = f.read(16)
            except OSError:
                continue
            if head.startswith(IMAGE_MAGIC) or head[4:8] == b"ftyp":
                found.append(path)
    return found


def check_downloads(row, dep, recs):
    """Every rendition (and the original) of every completed image downloads
    through the API with its recorded size."""
    ok, bad = 0, []
    for iid, rec in recs.items():
        if rec.get("status") != "completed":
            continue
        rends = dict(rec.get("renditions") or {})
        rends.setdefault("original", {"url": f"/images/{iid}/original"})
        for name, r in rends.items():
            url = r.get("url") or f"/images/{iid}/{name}"
            auth = {"Authorization": "Bearer " + ADMIN_TOKEN} if name == "original" else {}
            try:
                st, headers, body = dep.api.request("GET", url, headers=auth)
            except OSError as e:
                bad.append(f"{iid}/{name}: {e!r}")
                continue
            if st != 200 or not body or ("bytes" in r and len(body) != r["bytes"]):
                bad.append(f"{iid}/{name}: {st}, {len(body)} bytes (recorded {r.get('bytes')})")
            else:
                ok += 1
    row.check(not bad, f"{len(bad)} renditions did not download: {bad[:3]}")
    return ok


def load_with_fault(row, dep, n, seed, fault, at_fraction=0.3, interval=0.2, clients=3):
    """Uploads n images from `clients` concurrent clients, one per
    `interval` s overall at most (the load lasts about n * interval s and
    outpaces the pipeline, so jobs are queued and in flight throughout; a
    client stuck on a slow answer does not stop the others), calls fault()
    once about at_fraction of them are done, waits for every accepted one,
    and judges."""
    images = ft.make_images(n, seed=seed)
    ups = [ft.Uploader(dep.api, images[c::clients], min_interval=interval * clients)
           for c in range(clients)]
    for up in ups:
        up.start()

    def done():
        return sum(len(up.results) for up in ups)

    while any(up.is_alive() for up in ups) and done() < n * at_fraction:
        time.sleep(0.05)
    t_fault = time.time()
    at = done()
    note = fault()
    row.notes.append(f"fault at upload {at} of {n} ({done() - at} uploads answered during it): "
                     f"{note}")
    for up in ups:
        up.join(600)
    results = [r for up in ups for r in up.results]
    accepted = [r[3] for r in results if r[2] == 202]
    row.n503 = sum(1 for r in results if r[2] == 503)
    others = [r for r in results if r[2] not in (202, 503)]
    row.check(not others, f"uploads answered neither 202 nor 503: "
              f"{[(r[2], r[4][:80]) for r in others][:3]}")
    ft.judge_outcomes(row, dep, accepted, wait_s=240)
    last = max((e["_received"] for e in dep.events.for_ids(accepted)), default=time.time())
    row.notes.append(f"last event {last - t_fault:.0f} s after the fault; "
                     f"{reconnects(dep, t_fault)} connection losses logged by the API and workers")
    return accepted


def reconnects(dep, since):
    """Connection losses the API and the workers logged since `since`."""
    n = 0
    procs = [w for w in dep.workers] + ([dep.api_proc] if dep.api_proc else [])
    for p in procs:
        n += sum(1 for t, _ in ft.log_lines(p.log_path, "connection lost") if t >= since)
    return n


def dup_note(row, dep, ids):
    evs = dep.events.for_ids(ids)
    seen, repeats = set(), 0
    for e in sorted(evs, key=lambda e: e["_received"]):
        if e.get("event_id") in seen:
            repeats += 1
        seen.add(e.get("event_id"))
    row.check(repeats == row.dups, f"{row.dups} duplicates but {repeats} repeat a seen event_id")
    row.notes.append(f"{row.dups} duplicate events, {repeats} of them repeating an event_id "
                     "already seen")


# ---------------------------------------------------------------------------
# Scenarios


def scenario_steady(dep, args):
    row = ft.Row("1 steady")
    t0 = time.time()
    images = ft.make_images(args.uploads, seed=1000)
    up = ft.Uploader(dep.api, images)
    up.start()
    up.join(600)
    row.n503 = sum(1 for r in up.results if r[2] == 503)
    row.check(len(up.accepted()) == args.uploads,
              f"{len(up.accepted())} of {args.uploads} uploads accepted")
    recs = ft.judge_outcomes(row, dep, up.accepted(), wait_s=300)
    t_done = time.time()
    n = check_downloads(row, dep, recs)
    row.notes.append(f"{args.uploads} uploads done in {t_done - t0:.0f} s "
                     f"({args.uploads / max(0.1, t_done - t0):.1f} images/s end to end); "
                     f"{n} renditions and originals downloaded through the API")
    if dep.shared_dir:
        row.notes.append("NOT CHECKED (--storage shared-dir: every host uses one local folder): "
                         "the bucket and the worker hosts' own folders")
    else:
        keys = dep.bucket_keys()
        # The final objects of each image: .../<id>/original, .../<id>/medium.jpg
        # (the clean/ intermediates are not counted).
        finals = {}
        for k in keys:
            parts = k.split("/")
            if len(parts) >= 2 and parts[-2] != "clean":
                finals.setdefault(parts[-2], set()).add(parts[-1].partition(".")[0])
        missing = []
        for iid, rec in recs.items():
            absent = sorted({"original", *(rec.get("renditions") or {})} - finals.get(iid, set()))
            if absent:
                missing.append(f"{iid}: no object for {absent}")
        row.check(not missing, f"{len(missing)} images incomplete in the bucket: {missing[:3]}")
        leftovers = {}
        for host in (2, 3):
            imgs = images_under(dep.host_dir[host],
                                skip=(os.path.join(dep.host_dir[host], "rabbitmq"),))
            leftovers[host] = len(imgs)
            row.check(not imgs, f"host {host}'s folder holds {len(imgs)} images: {imgs[:2]}")
        row.notes.append(f"bucket holds {len(keys)} objects for {len(recs)} images; images left "
                         f"in the worker hosts' folders: host 2 {leftovers[2]}, host 3 "
                         f"{leftovers[3]}")
    row.kills = "0"
    row.ran = True
    return row


def scenario_host2(dep, args):
    row = ft.Row("2 host2-kill9")

    def fault():
        n = dep.net.kill_all(2)
        for w in dep.workers:
            if w.host == 2 and w.alive():
                w.p.wait(10)
        return f"{n} processes of host 2 SIGKILLed (RabbitMQ node 2, its epmd, 3 workers)"

    accepted = load_with_fault(row, dep, args.fault_uploads, 2000, fault)
    row.kills = "host 2"
    # The host comes back (same folder, as after a reboot).
    t = time.time()
    dep.cluster("start-node", "2")
    dep.wait_consuming(dep.start_workers(2))
    row.check(dep.wait_cluster_whole(), "node 2 did not rejoin the cluster")
    row.notes.append(f"host 2 back (node rejoined, workers consuming) in {time.time() - t:.0f} s")
    dup_note(row, dep, accepted)
    row.ran = True
    return row


def scenario_leader(dep, args):
    row = ft.Row("3 leader-kill9")
    # Looked up before the load (a rabbitmqctl call takes seconds); the
    # leader only moves when a node goes away.
    state = {"node": int(dep.cluster("leader", "resize").stdout.strip())}

    def fault():
        j = state["node"]
        dep.cluster("kill9", str(j))
        return f"node {j} held the resize leader: its beam SIGKILLed"

    accepted = load_with_fault(row, dep, args.fault_uploads, 3000, fault)
    row.kills = f"node {state.get('node')}"
    t = time.time()
    dep.cluster("start-node", str(state["node"]))
    row.check(dep.wait_cluster_whole(), f"node {state['node']} did not rejoin")
    new_leader = dep.cluster("leader", "resize", check=False).stdout.strip()
    row.notes.append(f"node {state['node']} back in {time.time() - t:.0f} s; resize leader now "
                     f"on node {new_leader}")
    dup_note(row, dep, accepted)
    row.ran = True
    return row


def scenario_cut(dep, args):
    row = ft.Row("4 host3-cut")

    def fault():
        dep.net.link(3, up=False)
        time.sleep(args.cut_s)
        dep.net.link(3, up=True)
        return f"host 3's link down for {args.cut_s:.0f} s, then up"

    accepted = load_with_fault(row, dep, args.fault_uploads, 4000, fault)
    row.kills = f"cut {args.cut_s:.0f} s"
    t = time.time()
    healed = dep.wait_cluster_whole(90)
    if not healed:
        # An asymmetric partition pause_minority does not heal by itself
        # (notes, finding F3): restart the paused node's app.
        dep.cluster("ctl", "3", "stop_app", check=False)
        dep.cluster("ctl", "3", "start_app", check=False)
        healed = dep.wait_cluster_whole(90)
        row.notes.append("node 3 needed stop_app/start_app to rejoin")
    row.check(healed, "node 3 did not rejoin after the cut")
    row.notes.append(f"cluster whole again {time.time() - t:.0f} s after the load ended")
    for w in dep.workers:
        if w.host == 3:
            row.check(w.alive(), f"{w.name} exited during the cut")
    dup_note(row, dep, accepted)
    row.ran = True
    return row


# ---------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--uploads", type=int, default=300)
    ap.add_argument("--fault-uploads", type=int, default=150)
    ap.add_argument("--cut-s", type=float, default=20)
    ap.add_argument("--scenarios", default="1,2,3,4")
    ap.add_argument("--storage", choices=("s3", "shared-dir"), default="s3")
    ap.add_argument("--budget", type=int, default=780, help="hard limit for the whole run, s")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs, data)")
    args = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("ip"):
        print("cluster test: needs root and iproute2 (network namespaces); skipped")
        return SKIP
    wanted = {int(x) for x in args.scenarios.split(",") if x}

    ft.arm_budget("cluster test", args.budget)

    t_all = time.time()
    Net.remove_stale()
    net = Net()
    work = tempfile.mkdtemp(prefix="pp-cluster-")
    os.chmod(work, 0o755)  # PostgreSQL runs as `postgres` and must enter it
    rows = {n: ft.Row(name) for n, name in ((1, "1 steady"), (2, "2 host2-kill9"),
                                             (3, "3 leader-kill9"), (4, "4 host3-cut"))}
    runs = ((1, scenario_steady), (2, scenario_host2), (3, scenario_leader), (4, scenario_cut))
    dep = None
    codes = {}
    try:
        net.up()
        dep = Deployment(args, net, work)
        dep.start()
        log(f"deployment up in {time.time() - t_all:.0f} s")
        ft.run_scenarios(rows, [(n, lambda fn=fn: fn(dep, args)) for n, fn in runs], wanted)
    except BaseException as e:  # noqa: BLE001 (SystemExit from SIGTERM too: clean up)
        ft.mark_not_run(rows, wanted, e)
    finally:
        signal.alarm(0)
        t_stop = time.time()
        if dep:
            try:
                codes = dep.stop()
            except Exception as e:  # noqa: BLE001
                log(f"stopping: {type(e).__name__}: {e}")
        net.down()
        log(f"stopped everything and removed the namespaces in {time.time() - t_stop:.0f} s")
    storage = ("S3 (nothing shared through the disk)" if args.storage == "s3" else
               "ONE SHARED FOLDER (--storage shared-dir: bucket and per-host folders not checked)")
    return ft.finish(f"cluster test: {time.time() - t_all:.0f} s, storage {storage}, quorum "
                     f"queues, 3 hosts on {net.subnet}.0/24", rows, wanted, codes, work, args.keep)

if __name__ == "__main__":
    sys.exit(main())
