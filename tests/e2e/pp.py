"""Helpers shared by the end-to-end tests, the fault tests and the load tool.

Standard library plus Debian's python3-pil only (run with /usr/bin/python3).
Every process started here is a child of this interpreter and is stopped by
PID; nothing is killed by name.
"""
import http.client
import io
import json
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
import uuid


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_jpeg(width=1024, height=768, seed=0, quality=88):
    """A photo-like JPEG: gradients, shapes and grain, different per seed."""
    from PIL import Image, ImageDraw, ImageFilter
    rnd = random.Random(seed)
    img = Image.new("RGB", (width, height))
    base = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
    grad = Image.linear_gradient("L").resize((width, height))
    img = Image.merge("RGB", [grad.point(lambda v, c=c: (v + c) % 256) for c in base])
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = rnd.randrange(width), rnd.randrange(height)
        x1, y1 = x0 + rnd.randrange(20, width // 2), y0 + rnd.randrange(20, height // 2)
        colour = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        (draw.ellipse if rnd.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=colour)
    img = img.filter(ImageFilter.GaussianBlur(1))
    noise = Image.effect_noise((width, height), 24).convert("RGB")
    img = Image.blend(img, noise, 0.12)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality, subsampling=2)
    return out.getvalue()


def multipart(fields):
    """fields: list of (name, filename or None, bytes, content_type). Returns (body, ctype)."""
    boundary = "----pp" + uuid.uuid4().hex
    out = io.BytesIO()
    for name, filename, data, ctype in fields:
        out.write(f"--{boundary}\r\n".encode())
        disp = f'form-data; name="{name}"'
        if filename is not None:
            disp += f'; filename="{filename}"'
        out.write(f"Content-Disposition: {disp}\r\n".encode())
        if ctype:
            out.write(f"Content-Type: {ctype}\r\n".encode())
        out.write(b"\r\n")
        out.write(data)
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


class Api:
    def __init__(self, port, host="127.0.0.1", timeout=30):
        self.host, self.port, self.timeout = host, port, timeout

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
        finally:
            conn.close()

    def upload(self, data, filename="photo.jpg", ctype="image/jpeg", path="/upload/"):
        body, mp = multipart([("file", filename, data, ctype)])
        return self.request("POST", path, body, {"Content-Type": mp})

    def json(self, method, path):
        status, _, data = self.request(method, path)
        return status, json.loads(data) if data else None

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if self.request("GET", "/readyz")[0] == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.2)
        return False


class WorkerMetrics(Api):
    """A worker's /metrics, /healthz, /readyz listener, started on port 0: the
    bound port is read from the worker's log line "worker metrics on
    HOST:PORT/metrics" at the first request."""

    LINE = re.compile(rb"worker metrics on \S*:(\d+)/metrics")

    def __init__(self, proc, timeout=30):
        super().__init__(None, timeout=timeout)
        self.proc = proc

    def request(self, method, path, body=None, headers=None):
        if self.port is None:
            self.port = self.bound_port()
        return super().request(method, path, body, headers)

    def bound_port(self, timeout=60):
        deadline = time.time() + timeout
        while True:
            with open(self.proc.log_path, "rb") as f:
                m = self.LINE.search(f.read())
            if m:
                return int(m.group(1))
            if not self.proc.alive() or time.time() >= deadline:
                raise OSError(f"{self.proc.name}: no metrics listener; see {self.proc.log_path}")
            time.sleep(0.1)


def parse_metrics(text):
    """Prometheus text -> {(name, frozenset(labels.items())): value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, value = line.rpartition(" ")
        labels = {}
        name = name_labels
        if "{" in name_labels:
            name, rest = name_labels.split("{", 1)
            for part in rest.rstrip("}").split(","):
                if "=" in part:
                    k, v = part.split("=", 1)
                    labels[k] = v.strip('"')
        try:
            out[(name, frozenset(labels.items()))] = float(value)
        except ValueError:
            pass
    return out


def metric(metrics, name, **labels):
    """Sum of the samples of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, l), v in metrics.items() if n == name and want <= set(l))


class Proc:
    """A child process with its output in a log file; stopped by PID."""

    def __init__(self, name, argv, env, log_dir):
        self.name = name
        self.log_path = os.path.join(log_dir, name + ".log")
        self.log = open(self.log_path, "ab")
        self.p = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()
        return self.p.returncode


class EventListener:
    """Runs `photo-pipeline events` and collects the JSON lines it prints."""

    def __init__(self, binary, queue, env):
        self.events = []
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.p = subprocess.Popen([binary, "events", "--queue", queue], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  stdin=subprocess.DEVNULL)
        self.ready = threading.Event()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        # `events` prints {"listening": queue} once its queue is bound to the
        # exchange; events published before that would not reach it.
        if not self.ready.wait(60):
            raise RuntimeError("events listener did not bind its queue")

    def _read(self):
        for line in self.p.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if "listening" in ev:
                self.ready.set()
                continue
            ev["_received"] = time.time()
            with self.cond:
                self.events.append(ev)
                self.cond.notify_all()

    def ids(self):
        with self.lock:
            return {e.get("id") for e in self.events}

    def wait_for(self, predicate, timeout):
        deadline = time.time() + timeout
        with self.cond:
            while not predicate(self.events):
                left = deadline - time.time()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


class System:
    """API + N workers per stage + an events listener against a given broker."""

    def __init__(self, binary, amqp_url, work_dir, workers_per_stage=1, extra_env=None,
                 stages_per_process=None):
        self.binary = binary
        self.work_dir = work_dir
        self.log_dir = os.path.join(work_dir, "log")
        os.makedirs(self.log_dir, exist_ok=True)
        self.port = free_port()
        self.env = dict(os.environ)
        self.env.update({
            "PHOTO_PIPELINE_AMQP_URL": amqp_url,
            "PHOTO_PIPELINE_DATA_DIR": os.path.join(work_dir, "data"),
            "PHOTO_PIPELINE_LISTEN": f"127.0.0.1:{self.port}",
            "PHOTO_PIPELINE_METRICS_LISTEN": "",
        })
        self.env.update(extra_env or {})
        self.api = Api(self.port)
        self.workers = []
        self.api_proc = None
        self.events = None
        self.workers_per_stage = workers_per_stage

    def start(self, events_queue=None):
        if events_queue:
            self.events = EventListener(self.binary, events_queue, self.env)
        self.api_proc = Proc("api", [self.binary, "api"], self.env, self.log_dir)
        for stage in ("resize", "watermark", "detect"):
            for i in range(self.workers_per_stage):
                self.start_worker(stage, i)
        if not self.api.wait_ready(60):
            # unittest skips tearDownModule when setUpModule fails: stop what
            # was started here, or the workers outlive the test.
            self.stop()
            raise RuntimeError("API not ready; see " + self.api_proc.log_path)
        return self

    def start_worker(self, stage, index):
        env = dict(self.env)
        # Port 0: the worker binds any free port and logs it. A port picked
        # here (free_port) could be handed out twice before either worker
        # binds it, and the second worker would then refuse to start.
        env["PHOTO_PIPELINE_METRICS_LISTEN"] = "127.0.0.1:0"
        w = Proc(f"worker-{stage}-{index}-{len(self.workers)}", [self.binary, "worker", stage],
                 env, self.log_dir)
        w.stage = stage
        w.metrics = WorkerMetrics(w)
        self.workers.append(w)
        return w

    def stop(self):
        codes = {}
        for w in self.workers:
            codes[w.name] = w.stop()
        if self.api_proc:
            codes["api"] = self.api_proc.stop()
        if self.events:
            self.events.stop()
        return codes

    def data_files(self):
        out = []
        for root, _, files in os.walk(os.path.join(self.work_dir, "data", "images")):
            out.extend(os.path.join(root, f) for f in files)
        return out


def rabbitmq(script_dir, *args, env=None):
    """Runs scripts/rabbitmq.sh with the fixture's environment."""
    return subprocess.run([os.path.join(script_dir, "rabbitmq.sh"), *args], env=env,
                          check=False, capture_output=True, text=True)
