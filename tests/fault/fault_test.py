#!/usr/bin/python3
"""Fault tests: the pipeline's delivery guarantees measured under crashes,
broker loss, poison input, transient faults and graceful shutdown.

Runs the real binary (API + 2 workers per stage + an events listener, SQLite
under a temp dir) against a RabbitMQ node of its own (ctest fixture
`rabbitmq_fault`; PHOTO_RMQ_DIR / PHOTO_RMQ_PORT address it for
scripts/rabbitmq.sh, PHOTO_TEST_AMQP_URL is its URL; each run makes a fresh
vhost there and deletes it at the end) and prints a table:

  1 kill9-workers  300 uploads, a busy worker kill -9'ed every ~2 s
  2 broker-kill9   broker kill -9'ed and restarted mid-load
  3 corrupt-image  one corrupt JPEG among 50 good ones
  4 transient      injected transient fault in watermark: retried with back-off
  5 sigterm-busy   SIGTERM to a worker while it processes a 48 MP image

Loopback only; every process is a child started here and stopped by PID
(children also get SIGKILL if this script dies: setpriv --pdeathsig).

usage: fault_test.py --bin build/photo-pipeline [--uploads 300] [--min-kills 10]
                     [--scenarios 1,2,3,4,5] [--seed N] [--keep] [--start-broker]
"""
import argparse
import datetime
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import pp  # noqa: E402

SCRIPTS = os.path.join(REPO, "scripts")
STAGES = ("resize", "watermark", "detect")
EVENT_QUEUE = "events.fault"  # declared by every process (PHOTO_PIPELINE_EVENT_QUEUES)
RETRY_DELAYS_MS = "500,1000,2000"
TERMINAL = ("completed", "failed")

# setpriv (util-linux, essential in Debian) sets PR_SET_PDEATHSIG and execs,
# so the child keeps its PID and gets SIGKILL if this script dies. (Not
# preexec_fn: forking with a Python callback is unsafe once threads run.)
# PDEATHSIG fires when the *thread* that forked exits, so children are only
# spawned from the main thread.
SETPRIV = shutil.which("setpriv")


def spawn(argv, env, **kw):
    assert threading.current_thread() is threading.main_thread()
    if SETPRIV:
        argv = [SETPRIV, "--pdeathsig", "KILL", "--", *argv]
    return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, **kw)


class Child(pp.Proc):
    """pp.Proc, but dies with this script."""

    def __init__(self, name, argv, env, log_dir):  # pylint: disable=super-init-not-called
        self.name = name
        self.log_path = os.path.join(log_dir, name + ".log")
        self.log = open(self.log_path, "ab")
        self.p = spawn(argv, env, stdout=self.log, stderr=subprocess.STDOUT)
        self.started = time.time()


class Listener(pp.EventListener):
    """pp.EventListener, but dies with this script."""

    def __init__(self, binary, queue, env):  # pylint: disable=super-init-not-called
        self.events = []
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.p = spawn([binary, "events", "--queue", queue], env,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.ready = threading.Event()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        if not self.ready.wait(60):
            raise RuntimeError("events listener did not bind its queue")

    def for_ids(self, ids):
        ids = set(ids)
        with self.lock:
            return [e for e in self.events if e.get("id") in ids]

    def wait_ids(self, ids, timeout):
        ids = set(ids)
        return self.wait_for(lambda evs: ids <= {e.get("id") for e in evs}, timeout)


class FaultSystem(pp.System):
    def start(self, events_queue=None):
        self.events = Listener(self.binary, events_queue, self.env)
        self.api_proc = Child("api", [self.binary, "api"], self.env, self.log_dir)
        for stage in STAGES:
            for i in range(self.workers_per_stage):
                self.start_worker(stage, i)
        if not self.api.wait_ready(90):
            raise RuntimeError("API not ready; see " + self.api_proc.log_path)
        return self

    def start_worker(self, stage, index=0, extra_env=None):
        env = dict(self.env)
        env.update(extra_env or {})
        w = Child(f"worker-{stage}-{len(self.workers)}", [self.binary, "worker", stage], env,
                  self.log_dir)
        w.stage = stage
        self.workers.append(w)
        return w

    def live_workers(self, stage=None):
        return [w for w in self.workers if w.alive() and (stage is None or w.stage == stage)]

    def wait_consuming(self, worker, timeout=60):
        """True once the worker's log says its consumer is on the queue."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not worker.alive():
                return False
            with open(worker.log_path, "rb") as f:
                if b"consuming (prefetch" in f.read():
                    return True
            time.sleep(0.1)
        return False


# ---------------------------------------------------------------------------
# Results


class Row:
    def __init__(self, scenario):
        self.scenario = scenario
        self.accepted = self.completed = self.failed = self.lost = self.dups = self.n503 = 0
        self.kills = "0"
        self.problems = []
        self.notes = []
        self.ran = False

    def check(self, ok, what):
        if not ok:
            self.problems.append(what)
        return ok

    @property
    def result(self):
        if not self.ran:
            return "SKIP"
        return "FAIL" if self.problems else "PASS"


def print_table(rows, out=sys.stdout):
    head = ["scenario", "accepted", "completed", "failed(reason)", "lost", "dup events",
            "503s", "kills", "result"]
    cells = [[r.scenario, r.accepted, r.completed, r.failed, r.lost, r.dups, r.n503, r.kills,
              r.result] for r in rows]
    cells = [[str(c) for c in row] for row in cells]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(head)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    fmt = "| " + " | ".join("{:<%d}" % w for w in widths) + " |"
    print(line, file=out)
    print(fmt.format(*head), file=out)
    print(line, file=out)
    for row in cells:
        print(fmt.format(*row), file=out)
    print(line, file=out)
    for r in rows:
        for n in r.notes:
            print(f"  {r.scenario}: {n}", file=out)
        for p in r.problems:
            print(f"  {r.scenario}: FAIL: {p}", file=out)
    out.flush()


# ---------------------------------------------------------------------------
# Helpers


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def make_images(n, seed, width=640, height=480):
    """n JPEGs; make_jpeg costs ~0.1 s each here, so at most 30 distinct
    images are generated and cycled (every upload still gets its own id)."""
    distinct = [pp.make_jpeg(width, height, seed=seed + i, quality=80) for i in range(min(n, 30))]
    return [distinct[i % len(distinct)] for i in range(n)]


def make_big_png(width=8000, height=6000):
    """A 48 MP PNG: no DCT-domain shrink for PNG, so the resize stage decodes
    every pixel (1-3 s here): long enough to signal a worker mid-job."""
    from PIL import Image, ImageDraw
    g = Image.linear_gradient("L").resize((width, height))
    img = Image.merge("RGB", [g, g.transpose(Image.FLIP_LEFT_RIGHT), g.transpose(Image.FLIP_TOP_BOTTOM)])
    d = ImageDraw.Draw(img)
    for i in range(8):
        d.ellipse([i * width // 10, i * height // 10, i * width // 10 + width // 4,
                   i * height // 10 + height // 4], fill=(i * 30, 255 - i * 30, 128))
    out = io.BytesIO()
    img.save(out, "PNG", compress_level=1)
    return out.getvalue()


def scan_data_offset(jpeg):
    """Offset of the first byte after the SOS header (entropy-coded data)."""
    i = 2
    while i + 4 <= len(jpeg):
        if jpeg[i] != 0xFF:
            raise ValueError("not a JPEG segment")
        marker, length = jpeg[i + 1], (jpeg[i + 2] << 8) | jpeg[i + 3]
        if marker == 0xDA:
            return i + 2 + length
        i += 2 + length
    raise ValueError("no SOS")


def corrupt_scan_jpeg(good, seed):
    """SOI..SOS of a real JPEG (so the probe sees a valid header and size),
    then garbage entropy data (no 0xFF, so no stray markers), then EOI."""
    s = scan_data_offset(good)
    rnd = random.Random(seed)
    return good[:s] + bytes(rnd.randrange(0, 255) for _ in range(len(good) - s - 2)) + b"\xff\xd9"


class Uploader(threading.Thread):
    """Uploads `images` one by one (at most one per `min_interval` s) and
    records (t_start, t_end, http status or None, id or None, body)."""

    def __init__(self, api, images, min_interval=0.0, forever=False):
        super().__init__(daemon=True)
        self.api, self.images, self.min_interval, self.forever = api, images, min_interval, forever
        self.results = []
        self.stop_flag = threading.Event()

    def run(self):
        i = 0
        while not self.stop_flag.is_set() and (self.forever or i < len(self.images)):
            data = self.images[i % len(self.images)]
            t0 = time.time()
            status, iid, body = None, None, b""
            try:
                status, _, body = self.api.upload(data, filename=f"f{i}.jpg")
                if status == 202:
                    iid = json.loads(body)["id"]
            except (OSError, ValueError) as e:
                body = repr(e).encode()
            t1 = time.time()
            self.results.append((t0, t1, status, iid, body))
            i += 1
            left = self.min_interval - (t1 - t0)
            if left > 0:
                self.stop_flag.wait(left)

    def accepted(self):
        return [r[3] for r in self.results if r[2] == 202]


def final_statuses(system, ids):
    out = {}
    for i in ids:
        try:
            st, rec = system.api.json("GET", "/status/" + i)
        except (OSError, ValueError) as e:
            st, rec = None, {"error": repr(e)}
        out[i] = rec if st == 200 else {"status": f"http {st}", "_raw": rec}
    return out


def judge_outcomes(row, system, ids, wait_s, expect_completed=True):
    """Waits for an event per id, then checks events and final statuses.
    Fills accepted / completed / failed / lost / dups. Returns the records."""
    ids = list(ids)
    system.events.wait_ids(ids, wait_s)
    evs = system.events.for_ids(ids)
    recs = final_statuses(system, ids)
    by_id = {}
    for e in evs:
        by_id.setdefault(e["id"], []).append(e)
    row.accepted = len(ids)
    row.dups = len(evs) - len({e.get("event_id") for e in evs})
    bad_ids, outcome_conflicts, event_mismatch = [], [], []
    for e in evs:
        if e.get("event_id") != f"{e.get('id')}:{e.get('status')}":
            bad_ids.append(e.get("event_id"))
    for i in ids:
        rec = recs[i]
        got = by_id.get(i, [])
        ev_ids = {e.get("event_id") for e in got}
        if len(ev_ids) > 1:
            outcome_conflicts.append(f"{i}: {sorted(ev_ids)}")
        status = rec.get("status")
        reason = (rec.get("error") or {}).get("code") if isinstance(rec.get("error"), dict) else None
        terminal = status == "completed" or (status == "failed" and reason)
        if not terminal or not got:
            row.lost += 1
            continue
        if ev_ids != {f"{i}:{status}"}:
            event_mismatch.append(f"{i}: status {status}, events {sorted(ev_ids)}")
        if status == "completed":
            row.completed += 1
        else:
            row.failed += 1
    row.check(not bad_ids, f"event_id not '<id>:<status>': {bad_ids[:3]}")
    row.check(not outcome_conflicts, f"two outcomes for one image: {outcome_conflicts[:3]}")
    row.check(not event_mismatch, f"event disagrees with final status: {event_mismatch[:3]}")
    row.check(row.lost == 0, f"{row.lost} accepted images lost (no terminal status + event): "
              + ", ".join(f"{i}={recs[i].get('status')}" for i in ids
                          if recs[i].get("status") not in TERMINAL)[:300])
    row.check(row.accepted == row.completed + row.failed,
              f"accepted {row.accepted} != completed {row.completed} + failed {row.failed}")
    if expect_completed:
        row.check(row.failed == 0, "failed: " + ", ".join(
            f"{i}={(recs[i].get('error') or {}).get('code')}" for i in ids
            if recs[i].get("status") == "failed")[:300])
    return recs


LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}) \S+ \[(\d+)\] (.*)$")


def log_lines(path, needle):
    """(unix time, message) of the lines of a text-format log containing needle."""
    out = []
    with open(path, "r", errors="replace") as f:
        for line in f:
            m = LOG_LINE.match(line.strip())
            if m and needle in m.group(3):
                t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").timestamp()
                out.append((t, m.group(3)))
    return out


# ---------------------------------------------------------------------------
# Scenarios


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


def pick_busy(workers, rnd, window=0.4, step=0.02):
    """A worker seen using CPU right now (it gained a clock tick within the
    last `step` seconds), so the kill lands mid-job; the jobs here take tens
    of ms, and a random pick mostly hits idle workers. Random if none shows
    CPU within `window`."""
    last = {w: cpu_ticks(w.p.pid) for w in workers}
    end = time.time() + window
    while time.time() < end:
        time.sleep(step)
        busy = []
        for w in workers:
            t = cpu_ticks(w.p.pid)
            if t is not None and last[w] is not None and t > last[w]:
                busy.append(w)
            last[w] = t
        if busy:
            return rnd.choice(busy)
    return rnd.choice(workers)


def scenario_kill9_workers(system, args, rnd):
    row = Row("1 kill9-workers")
    images = make_images(args.uploads, seed=1000)
    # Paced so that the load lasts long enough for most kills to land on
    # busy workers (the pipeline keeps up with ~5-8 images/s here).
    up = Uploader(system.api, images, min_interval=args.kill_interval * args.min_kills / len(images))
    t0 = time.time()
    up.start()
    kills, by_stage = 0, {s: 0 for s in STAGES}
    deadline = t0 + args.s1_budget
    while time.time() < deadline:
        time.sleep(rnd.uniform(0.6, 1.4) * args.kill_interval)
        loading = up.is_alive()
        drained = not loading and system.events.wait_ids(up.accepted(), 0)
        if drained and kills >= args.min_kills:
            break
        victim = pick_busy(system.live_workers(), rnd)
        victim.p.kill()  # SIGKILL
        victim.p.wait()
        victim.log.close()
        kills += 1
        by_stage[victim.stage] += 1
        # An orchestrator would restart it at once.
        system.start_worker(victim.stage)
    up.join(max(0.0, deadline - time.time()))
    up.stop_flag.set()
    row.kills = str(kills)
    row.n503 = sum(1 for r in up.results if r[2] == 503)
    others = [r for r in up.results if r[2] not in (202, 503)]
    row.check(not others, f"uploads answered neither 202 nor 503: {[(r[2], r[4][:80]) for r in others][:3]}")
    row.check(len(up.results) == len(images), f"only {len(up.results)} of {len(images)} uploads done")
    row.check(kills >= args.min_kills, f"only {kills} kills")
    # The guarantee is "completed or failed with a reason"; a failure here
    # is allowed but listed.
    recs = judge_outcomes(row, system, up.accepted(), wait_s=max(30.0, deadline + 120 - time.time()),
                          expect_completed=False)
    failed = {i: (r.get("error") or {}).get("code") for i, r in recs.items()
              if r.get("status") == "failed"}
    if failed:
        row.notes.append(f"failed with reasons: {sorted(set(failed.values()))} ({len(failed)})")
    redeliveries = sum(s.get("redeliveries", 0) for r in recs.values()
                       for s in (r.get("stages") or {}).values())
    attempts2 = sum(1 for r in recs.values() for s in (r.get("stages") or {}).values()
                    if s.get("attempts", 0) > 1)
    # Proof that kills hit workers mid-job (not just idle ones).
    row.check(redeliveries >= 1, "no job was redelivered: no kill landed on a busy worker")
    tmp = [f for f in system.data_files() if f.endswith(".tmp")]
    row.notes.append(f"kills per stage {by_stage}; stage redeliveries counted {redeliveries}, "
                     f"stage runs with >1 attempt {attempts2}; orphan temp files {len(tmp)}; "
                     f"{time.time() - t0:.0f} s")
    row.ran = True
    return row


def scenario_broker_kill9(system, args):
    row = Row("2 broker-kill9")
    env = dict(os.environ)
    if not env.get("PHOTO_RMQ_DIR"):
        # Without it rabbitmq.sh would address the default node, not ours.
        row.ran = True
        row.check(False, "needs PHOTO_RMQ_DIR / PHOTO_RMQ_PORT of the test's own node")
        return row
    pids = {w.name: w.pid for w in system.live_workers()}
    pids["api"] = system.api_proc.pid
    pids["events"] = system.events.p.pid
    up = Uploader(system.api, make_images(40, seed=2000, width=320, height=240),
                  min_interval=0.25, forever=True)
    t0 = time.time()
    up.start()
    time.sleep(4)
    t_kill0 = time.time()
    r = pp.rabbitmq(SCRIPTS, "kill9", env=env)
    t_kill1 = time.time()
    if not row.check(r.returncode == 0, f"rabbitmq.sh kill9: {r.stderr.strip()[-300:]}"):
        up.stop_flag.set()
        up.join()
        row.ran = True
        return row
    time.sleep(4)
    t_start0 = time.time()
    r = pp.rabbitmq(SCRIPTS, "start", env=env)
    t_start1 = time.time()
    row.check(r.returncode == 0, f"rabbitmq.sh start: {r.stderr.strip()[-300:]}")
    # Keep loading until a few uploads after the restart were accepted.
    deadline = time.time() + 60
    while time.time() < deadline:
        after = [x for x in up.results if x[0] > t_start1 and x[2] == 202]
        if len(after) >= 10:
            break
        time.sleep(0.5)
    up.stop_flag.set()
    up.join(30)
    res = up.results
    before = [x for x in res if x[1] < t_kill0]
    outage = [x for x in res if x[0] > t_kill1 and x[1] < t_start0]
    booting = [x for x in res if x[0] >= t_start0 and x[1] <= t_start1]
    after = [x for x in res if x[0] > t_start1]
    row.n503 = sum(1 for x in res if x[2] == 503)
    row.kills = "1 broker"
    row.check(sum(1 for x in before if x[2] == 202) >= 5, "fewer than 5 uploads accepted before the kill")
    row.check(outage and all(x[2] == 503 for x in outage),
              f"uploads while the broker was down not all 503: "
              f"{sorted({x[2] for x in outage}, key=str)} of {len(outage)}")
    row.check(all(x[2] in (202, 503) for x in res),
              f"uploads answered neither 202 nor 503: {[(x[2], x[4][:80]) for x in res if x[2] not in (202, 503)][:3]}")
    row.check(sum(1 for x in after if x[2] == 202) >= 10, "fewer than 10 uploads accepted after the restart")
    first_ok = min((x[0] for x in after if x[2] == 202), default=None)
    judge_outcomes(row, system, up.accepted(), wait_s=150)
    # Same processes: nobody restarted anything.
    now = {w.name: w.pid for w in system.live_workers()}
    now["api"] = system.api_proc.pid if system.api_proc.alive() else None
    now["events"] = system.events.p.pid if system.events.p.poll() is None else None
    row.check(now == pids, f"processes changed across the broker restart: {pids} -> {now}")
    # Each worker is back on its queue (not just some worker per stage), in
    # time: reconnect back-off is capped at 10 s + 25 % jitter.
    while True:
        stale = [w.name for w in system.live_workers()
                 if not any(t > t_kill1 for t, _ in log_lines(w.log_path, "consuming (prefetch"))]
        if not stale or time.time() > t_start1 + 30:
            break
        time.sleep(0.5)
    row.check(not stale, f"workers that did not re-consume within 30 s of the restart: {stale}")
    row.notes.append(
        f"uploads: {len(before)} before the kill, {len(outage)} while down (503: "
        f"{sum(1 for x in outage if x[2] == 503)}), {len(booting)} while the node booted "
        f"({t_start1 - t_start0:.0f} s; 503: {sum(1 for x in booting if x[2] == 503)}), "
        f"{len(after)} after; first 202 after restart {((first_ok or t_start1) - t_start1):.1f} s "
        f"after the node answered; same {len(pids)} PIDs; {time.time() - t0:.0f} s")
    row.ran = True
    return row


def scenario_corrupt(system, args):
    row = Row("3 corrupt-image")
    t0 = time.time()
    good = make_images(50, seed=3000)
    base = pp.make_jpeg(640, 480, seed=3999, quality=80)
    # A plainly truncated JPEG (no EOI) never gets in: the probe refuses it.
    st, _, body = system.api.upload(base[: len(base) // 2], filename="cut.jpg")
    code = json.loads(body).get("error", {}).get("code") if st != 202 else None
    row.notes.append(f"truncated JPEG without EOI at upload: {st} {code}; using a JPEG with a "
                     "valid header and garbage scan data instead")
    row.check(st == 415, f"truncated JPEG got {st} at upload, expected 415")
    corrupt = corrupt_scan_jpeg(base, seed=3)
    ids, corrupt_id = [], None
    for i, data in enumerate(good[:25] + [corrupt] + good[25:]):
        st, _, body = system.api.upload(data, filename=f"c{i}.jpg")
        if not row.check(st == 202, f"upload {i} got {st}: {body[:100]}"):
            continue
        ids.append(json.loads(body)["id"])
        if data is corrupt:
            corrupt_id = ids[-1]
    if not row.check(corrupt_id is not None, "the corrupt image was not accepted at upload"):
        row.ran = True
        return row
    recs = judge_outcomes(row, system, ids, wait_s=120, expect_completed=False)
    row.check(row.completed == 50, f"{row.completed} of 50 good images completed")
    rec = recs[corrupt_id]
    err = rec.get("error") or {}
    stages = rec.get("stages") or {}
    row.check(rec.get("status") == "failed", f"corrupt image ended {rec.get('status')}")
    row.check(err.get("code") == "corrupt_image" and err.get("stage") == "resize",
              f"corrupt image error {err}")
    row.check(stages.get("resize", {}).get("attempts") == 1,
              f"resize attempts {stages.get('resize', {}).get('attempts')}, expected 1")
    row.check(all(stages.get(s, {}).get("attempts", 0) == 0 for s in ("watermark", "detect")),
              "a later stage ran for the corrupt image")
    # Parked with its reason.
    p = subprocess.run([system.binary, "dlq", "list", "--stage", "resize", "--limit", "1000"],
                       env=system.env, capture_output=True, text=True, timeout=60)
    parked = []
    if row.check(p.returncode == 0, f"dlq list exit {p.returncode}: {p.stderr[-200:]}"):
        parked = [m for m in json.loads(p.stdout).get("resize", [])
                  if isinstance(m.get("job"), dict) and m["job"].get("id") == corrupt_id]
    h = parked[0]["headers"] if parked else {}
    row.check(len(parked) == 1, f"corrupt job parked {len(parked)} times in resize.parking")
    row.check(h.get("x-error-code") == "corrupt_image" and h.get("x-attempts") == "1"
              and h.get("x-stage") == "resize" and h.get("x-error-message"),
              f"parking headers {h}")
    row.notes.append(f"corrupt image: {err.get('code')} ({err.get('message')}); parked with "
                     f"x-error-code={h.get('x-error-code')} x-attempts={h.get('x-attempts')}; "
                     f"{time.time() - t0:.0f} s")
    row.ran = True
    return row


def restart_stage(system, stage, row, extra_env=None, count=2):
    """SIGTERMs the stage's workers (each must exit 0) and starts `count` new ones."""
    for w in system.live_workers(stage):
        t = time.time()
        rc = w.stop(signal.SIGTERM, timeout=45)
        row.check(rc == 0, f"idle {w.name} exited {rc} on SIGTERM")
        row.check(time.time() - t < 40, f"idle {w.name} took {time.time() - t:.1f} s to stop")
    new = [system.start_worker(stage, extra_env=extra_env) for _ in range(count)]
    for w in new:
        row.check(system.wait_consuming(w), f"{w.name} did not start consuming")
    return new


def scenario_transient(system, args):
    row = Row("4 transient")
    t0 = time.time()
    inject = {"PHOTO_PIPELINE_FAULT_INJECT": "watermark:2"}
    faulty = restart_stage(system, "watermark", row, extra_env=inject)
    ids = []
    for i, data in enumerate(make_images(3, seed=4000)):
        st, _, body = system.api.upload(data, filename=f"t{i}.jpg")
        if row.check(st == 202, f"upload got {st}"):
            ids.append(json.loads(body)["id"])
    recs = judge_outcomes(row, system, ids, wait_s=60)
    gaps_all = []
    for i in ids:
        stages = recs[i].get("stages") or {}
        att = {s: stages.get(s, {}).get("attempts") for s in STAGES}
        row.check(att == {"resize": 1, "watermark": 3, "detect": 1}, f"{i} attempts {att}")
        # When each attempt ended, from the workers' logs (any worker).
        ends = []
        for w in system.workers:
            if w.stage == "watermark":
                ends += log_lines(w.log_path, f"watermark image_id={i} ")
        ends.sort()
        kinds = [("retry" if ": retry" in m else "done" if m.endswith(" done") else "?") for _, m in ends]
        if row.check(kinds == ["retry", "retry", "done"], f"{i} watermark log: {kinds}"):
            gaps = [ends[1][0] - ends[0][0], ends[2][0] - ends[1][0]]
            gaps_all.append(gaps)
            row.check(gaps[0] >= 0.45 and gaps[1] >= 0.95 and gaps[1] > gaps[0],
                      f"{i} gaps between attempts {gaps} do not grow as 0.5 s, 1 s")
    # Back to normal workers for the next scenarios.
    restart_stage(system, "watermark", row)
    row.kills = "0"
    row.notes.append("gaps between watermark attempts (s): "
                     + "; ".join(f"{g[0]:.2f} -> {g[1]:.2f}" for g in gaps_all)
                     + f" (retry delays {RETRY_DELAYS_MS} ms); {time.time() - t0:.0f} s")
    row.ran = True
    return row


def scenario_sigterm_busy(system, args):
    row = Row("5 sigterm-busy")
    t0 = time.time()
    big = make_big_png()
    # One resize worker only, so we know who holds the job.
    resize = system.live_workers("resize")
    for w in resize[1:]:
        rc = w.stop(signal.SIGTERM, timeout=45)
        row.check(rc == 0, f"idle {w.name} exited {rc} on SIGTERM")
    busy = resize[0]
    row.kills = "0"
    ids, caught = [], None
    # The resize of the big PNG takes ~1-2 s here; if the signal lands just
    # after it finished (the status poll raced it), try again with the
    # replacement as the only resize worker.
    for attempt in range(1, 4):
        st, _, body = system.api.upload(big, filename="big.png", ctype="image/png")
        if not row.check(st == 202, f"big upload got {st}: {body[:100]}"):
            break
        iid = json.loads(body)["id"]
        ids.append(iid)
        processing = False
        deadline = time.time() + 60
        while time.time() < deadline:
            _, rec = system.api.json("GET", "/status/" + iid)
            if (rec.get("stages") or {}).get("resize", {}).get("state") == "processing":
                processing = True
                break
            time.sleep(0.02)
        if not row.check(processing, "the big image never showed resize 'processing'"):
            break
        t_sig = time.time()
        busy.p.send_signal(signal.SIGTERM)
        # A replacement, as an orchestrator would start (it gets the job if
        # the stopping worker hands it back).
        other = system.start_worker("resize")
        try:
            rc = busy.p.wait(60)
        except subprocess.TimeoutExpired:
            rc = None
        exit_s = time.time() - t_sig
        busy.stop()  # closes the log (kills if still alive)
        row.kills = f"{attempt} SIGTERM"
        row.check(rc == 0, f"{busy.name} exited {rc} after SIGTERM")
        row.check(exit_s < 35, f"{busy.name} took {exit_s:.1f} s to exit (stop grace 30 s)")
        system.events.wait_ids([iid], 90)
        stop_line = log_lines(busy.log_path, "worker stopping")
        done_by_busy = log_lines(busy.log_path, f"resize image_id={iid} done")
        done_by_other = log_lines(other.log_path, f"resize image_id={iid} done")
        if done_by_other:
            caught = (rc, exit_s, "requeued and completed by the replacement worker")
        elif done_by_busy and stop_line and stop_line[0][0] <= done_by_busy[0][0]:
            caught = (rc, exit_s, "the signalled worker finished it before exiting")
        busy = other
        if caught:
            break
    row.check(caught is not None, "never caught the worker busy (or nobody finished the job)")
    judge_outcomes(row, system, ids, wait_s=90)
    if caught:
        res = (system.api.json("GET", "/status/" + ids[-1])[1].get("stages") or {}).get("resize", {})
        row.notes.append(
            f"SIGTERM while resize of a 48 MP PNG was 'processing' (try {len(ids)}); exit "
            f"{caught[0]} after {caught[1]:.1f} s; {caught[2]}; resize attempts "
            f"{res.get('attempts')}, redeliveries {res.get('redeliveries')}, "
            f"{res.get('duration_ms', 0):.0f} ms; {time.time() - t0:.0f} s")
    # Back to two resize workers.
    system.start_worker("resize")
    row.ran = True
    return row


# ---------------------------------------------------------------------------


def arm_budget(what, seconds):
    """After `seconds` a TimeoutError ends the run; SIGTERM (ctest's own
    timeout) exits through the callers' `finally`, so they still clean up."""
    def on_alarm(signum, frame):
        raise TimeoutError(f"{what} over its {seconds} s budget")
    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(143))
    signal.alarm(seconds)


def run_scenarios(rows, runs, wanted):
    """Runs each wanted (n, fn) of `runs` in order, fn() returning its Row. A
    scenario that raises fails its own row, not the others; a timeout (the
    run's budget) ends the run."""
    for n, fn in runs:
        if n not in wanted:
            continue
        log(f"scenario {rows[n].scenario} ...")
        try:
            rows[n] = fn()
        except Exception as e:  # a broken scenario must not hide the others
            rows[n].ran = True
            rows[n].problems.append(f"{type(e).__name__}: {e}")
            if isinstance(e, TimeoutError):
                raise
        log(f"scenario {rows[n].scenario}: {rows[n].result}")


def mark_not_run(rows, wanted, e):
    log(f"aborted: {type(e).__name__}: {e}")
    for r in rows.values():
        if not r.ran and int(r.scenario.split()[0]) in wanted:
            r.ran = True
            r.problems.append(f"not run: {type(e).__name__}: {e}")


def finish(title, rows, wanted, codes, work, keep):
    """Prints the title and the table, keeps `work` unless everything
    passed (or --keep), and returns the exit status."""
    # Killed workers report -9; everything still running at the end was
    # SIGTERMed and must exit 0.
    bad_exit = {k: v for k, v in codes.items() if v not in (0, -signal.SIGKILL)}
    print(f"\n{title}")
    shown = [rows[n] for n in sorted(rows) if n in wanted]
    print_table(shown)
    ok = all(r.result == "PASS" for r in shown) and not bad_exit
    if bad_exit:
        print(f"  processes that did not exit 0 on SIGTERM: {bad_exit}")
    if ok and not keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"  logs and data kept in {work}")
    return 0 if ok else 1


def ctl(*argv):
    return pp.rabbitmq(SCRIPTS, "ctl", *argv, env=dict(os.environ))


def fresh_vhost():
    """A vhost of our own on the node: every run starts from an empty
    topology (no queues declared with another retry schedule, no jobs or
    parked messages an aborted run left). ~3 s per rabbitmqctl call here."""
    r = ctl("list_vhosts", "--quiet", "--no-table-headers")
    if r.returncode != 0:
        raise RuntimeError("rabbitmqctl list_vhosts: " + r.stderr.strip()[-300:])
    for v in r.stdout.split():
        if v.startswith("fault-"):  # left by an aborted run
            ctl("delete_vhost", v)
    name = f"fault-{os.getpid()}-{random.randrange(1 << 20):05x}"
    for argv in (("add_vhost", name), ("set_permissions", "-p", name, "guest", ".*", ".*", ".*")):
        r = ctl(*argv)
        if r.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {argv[0]}: " + r.stderr.strip()[-300:])
    return name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--amqp-url", default=os.environ.get("PHOTO_TEST_AMQP_URL"))
    ap.add_argument("--uploads", type=int, default=300)
    ap.add_argument("--min-kills", type=int, default=10)
    ap.add_argument("--kill-interval", type=float, default=2.0, help="mean seconds between kills")
    ap.add_argument("--s1-budget", type=float, default=150, help="max seconds of load + kills")
    ap.add_argument("--scenarios", default="1,2,3,4,5")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--budget", type=int, default=720, help="hard limit for the whole run, s")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs, data)")
    ap.add_argument("--start-broker", action="store_true",
                    help="start (and stop) the node addressed by PHOTO_RMQ_* here")
    args = ap.parse_args()
    if not args.amqp_url:
        ap.error("--amqp-url or PHOTO_TEST_AMQP_URL is required")
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rnd = random.Random(seed)
    wanted = {int(x) for x in args.scenarios.split(",") if x}

    arm_budget("fault test", args.budget)

    if args.start_broker:
        r = pp.rabbitmq(SCRIPTS, "start", env=dict(os.environ))
        if r.returncode != 0:
            print(r.stderr, file=sys.stderr)
            return 2

    vhost = None
    amqp_url = args.amqp_url
    if os.environ.get("PHOTO_RMQ_DIR"):
        vhost = fresh_vhost()
        amqp_url = amqp_url.rstrip("/") + "/" + vhost
    work = tempfile.mkdtemp(prefix="pp-fault-")
    log(f"seed {seed}; work dir {work}; broker {amqp_url}")
    system = FaultSystem(args.bin, amqp_url, work, workers_per_stage=2, extra_env={
        "PHOTO_PIPELINE_RETRY_DELAYS_MS": RETRY_DELAYS_MS,
        "PHOTO_PIPELINE_EVENT_QUEUES": EVENT_QUEUE,
        "PHOTO_PIPELINE_LOG_FORMAT": "text",
        "PHOTO_PIPELINE_LOG_LEVEL": "info",
    })
    system.env.pop("PHOTO_PIPELINE_FAULT_INJECT", None)
    rows = {n: Row(name) for n, name in ((1, "1 kill9-workers"), (2, "2 broker-kill9"),
                                          (3, "3 corrupt-image"), (4, "4 transient"),
                                          (5, "5 sigterm-busy"))}
    runs = ((1, lambda: scenario_kill9_workers(system, args, rnd)),
            (2, lambda: scenario_broker_kill9(system, args)),
            (3, lambda: scenario_corrupt(system, args)),
            (4, lambda: scenario_transient(system, args)),
            (5, lambda: scenario_sigterm_busy(system, args)))
    t_all = time.time()
    codes = {}
    try:
        system.start(events_queue=EVENT_QUEUE)
        log("system up")
        run_scenarios(rows, runs, wanted)
    except Exception as e:  # noqa: BLE001
        mark_not_run(rows, wanted, e)
    finally:
        signal.alarm(0)
        codes = system.stop()
        if vhost:
            ctl("delete_vhost", vhost)
        if args.start_broker:
            pp.rabbitmq(SCRIPTS, "stop", env=dict(os.environ))
    return finish(f"fault test: seed {seed}, {time.time() - t_all:.0f} s, {args.uploads} uploads "
                  "in scenario 1", rows, wanted, codes, work, args.keep)


if __name__ == "__main__":
    sys.exit(main())
