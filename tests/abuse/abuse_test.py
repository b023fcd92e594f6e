#!/usr/bin/python3
"""Abuse test of the API front end (ctest label `abuse`): the real binary,
its own RabbitMQ node, SQLite, loopback only. Prints its figures.

  1. unloaded: upload rate (N uploads of a small JPEG, C keep-alive clients);
  2. opens SLOW slow-header connections (each sends "POST /upload/ HTTP/1.1\\r\\n
     Host: x\\r\\n" and then nothing) and IDLE idle keep-alive connections (one
     GET /healthz answered, then silence), spread over 127.0.0.10-39 (all of
     127/8 is loopback) so no address is over its connection cap;
  3. with those open: GET /healthz latency (a new connection per request),
     then the upload rate again; checks p99 < 100 ms and rate >= 80 %;
  4. a client that half-closes after its upload gets its 202; a 64 KiB
     header line gets 431 at once; one address (127.0.0.200) over its
     connection cap is refused (429) while 127.0.0.201 is served; one
     address (127.0.0.202) over its request rate gets 429 + Retry-After
     while 127.0.0.203 is served;
  5. prints the API's peak RSS (VmHWM).

The head deadline is raised to 60 s for the test so the slow connections
stay held during the whole measurement (the deadline itself is unit-tested:
server_test.cc SlowHeadIsCutAtTheDeadline). Bounded: every wait has a
timeout; the API is stopped by PID at the end.

  abuse_test.py --bin build/release/photo-pipeline [--slow 5000 --idle 1000]
Environment: PHOTO_TEST_AMQP_URL (the fixture's node).
"""
import argparse
import os
import resource
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import pp  # noqa: E402

CAP = 256  # PHOTO_PIPELINE_HTTP_MAX_CONNECTIONS_PER_CLIENT for the test
RATE, BURST = 200, 400  # PHOTO_PIPELINE_RATE_LIMIT / _RATE_BURST (per address)
UPLOAD_SOURCES = [f"127.0.0.{i}" for i in range(2, 10)]  # each stays well under RATE


def connect(port, source=None, timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_response(s, buf=b""):
    """-> (status, headers_lower_bytes, body, rest)."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("closed before a response")
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(buf) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("closed inside a body")
        buf += chunk
    return status, head.lower(), buf[:length], buf[length:]


def upload_rate(port, request, n, c):
    """n uploads over c keep-alive connections -> (uploads/s, non-202 count)."""
    counter = iter(range(n))
    lock = threading.Lock()
    bad = [0]

    def worker(source):
        s = connect(port, source, timeout=60)
        buf = b""
        try:
            while True:
                with lock:
                    if next(counter, None) is None:
                        return
                s.sendall(request)
                status, _, _, buf = read_response(s, buf)
                if status != 202:
                    with lock:
                        bad[0] += 1
        finally:
            s.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(UPLOAD_SOURCES[i % len(UPLOAD_SOURCES)],))
               for i in range(c)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    return n / (time.monotonic() - t0), bad[0]


def healthz_latencies(port, n, source="127.0.0.1"):
    out = []
    for _ in range(n):
        t0 = time.monotonic()
        s = connect(port, source)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, _, _, _ = read_response(s)
        out.append((time.monotonic() - t0) * 1000.0)
        s.close()
        if status != 200:
            raise AssertionError(f"/healthz answered {status}")
    return sorted(out)


def pct(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100.0))]


def open_connections(port, slow, idle, sources):
    held = []
    for i in range(slow):
        s = connect(port, sources[i % len(sources)])
        s.sendall(b"POST /upload/ HTTP/1.1\r\nHost: x\r\n")
        held.append(s)
    for i in range(idle):
        s = connect(port, sources[(slow + i) % len(sources)])
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, _, _ = read_response(s)
        assert status == 200, status
        held.append(s)
    return held


def proc_status_mb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def vm_hwm_mb(pid):
    return proc_status_mb(pid, "VmHWM")


def vm_rss_mb(pid):
    return proc_status_mb(pid, "VmRSS")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--slow", type=int, default=5000)
    ap.add_argument("--idle", type=int, default=1000)
    ap.add_argument("--uploads", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--healthz", type=int, default=300)
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.slow + args.idle + CAP + 512
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < need:
        sys.exit(f"RLIMIT_NOFILE hard limit {hard} is below the {need} descriptors the test needs")

    amqp = os.environ.get("PHOTO_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    work = tempfile.mkdtemp(prefix="photo-abuse-")
    port = pp.free_port()
    env = dict(os.environ)
    env.update({
        "PHOTO_PIPELINE_AMQP_URL": amqp,
        "PHOTO_PIPELINE_DATA_DIR": os.path.join(work, "data"),
        "PHOTO_PIPELINE_LISTEN": f"127.0.0.1:{port}",
        "PHOTO_PIPELINE_ACCESS_LOG": "0",
        "PHOTO_PIPELINE_HTTP_HEAD_TIMEOUT": "60",
        "PHOTO_PIPELINE_HTTP_KEEP_ALIVE_TIMEOUT": "120",
        "PHOTO_PIPELINE_HTTP_MAX_CONNECTIONS_PER_CLIENT": str(CAP),
        "PHOTO_PIPELINE_RATE_LIMIT": str(RATE),
        "PHOTO_PIPELINE_RATE_BURST": str(BURST),
    })
    api = pp.Proc("api", [args.bin, "api"], env, work)
    failures = []
    held = []
    try:
        if not pp.Api(port).wait_ready(60):
            sys.exit("API not ready; log: " + os.path.join(work, "api.log"))
        photo = pp.make_jpeg(320, 240, seed=1)
        body, ctype = pp.multipart([("file", "abuse.jpg", photo, "image/jpeg")])
        request = (f"POST /upload/ HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body

        upload_rate(port, request, 100, args.clients)  # warm-up (broker channels, page cache)
        base_rate, base_bad = upload_rate(port, request, args.uploads, args.clients)
        base_h = healthz_latencies(port, args.healthz)
        print(f"unloaded: {base_rate:.0f} uploads/s ({args.uploads} x {len(photo)} B, {args.clients} clients, "
              f"{base_bad} not 202); GET /healthz p50 {pct(base_h, 50):.1f} ms p99 {pct(base_h, 99):.1f} ms")

        sources = [f"127.0.0.{i}" for i in range(10, 40)]
        t0 = time.monotonic()
        rss_before = vm_rss_mb(api.pid)
        held = open_connections(port, args.slow, args.idle, sources)
        rss_after = vm_rss_mb(api.pid)
        print(f"opened {args.slow} slow-header + {args.idle} idle keep-alive connections from "
              f"{len(sources)} addresses in {time.monotonic() - t0:.1f} s; API RSS {rss_before:.1f} -> "
              f"{rss_after:.1f} MB ({(rss_after - rss_before) * 1024 / len(held):.1f} KiB per connection)")

        loaded_h = healthz_latencies(port, args.healthz)
        rate, bad = upload_rate(port, request, args.uploads, args.clients)
        ratio = rate / base_rate
        print(f"loaded: GET /healthz p50 {pct(loaded_h, 50):.1f} ms p99 {pct(loaded_h, 99):.1f} ms "
              f"max {loaded_h[-1]:.1f} ms; {rate:.0f} uploads/s = {ratio * 100:.0f} % of unloaded ({bad} not 202)")
        if pct(loaded_h, 99) >= 100:
            failures.append(f"healthz p99 {pct(loaded_h, 99):.1f} ms >= 100 ms")
        if ratio < 0.8:
            failures.append(f"upload rate {ratio * 100:.0f} % < 80 % of unloaded")
        if bad or base_bad:
            failures.append(f"{bad + base_bad} uploads not answered 202")

        # Half-closed client: request, shutdown(SHUT_WR), answer still comes.
        s = connect(port)
        s.sendall(request)
        s.shutdown(socket.SHUT_WR)
        status, _, _, _ = read_response(s)
        s.close()
        print(f"half-closed upload: {status}")
        if status != 202:
            failures.append(f"half-closed upload answered {status}")

        # 64 KiB header line: 431 at once.
        s = connect(port)
        t0 = time.monotonic()
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n")
        except OSError:
            pass  # the server may close before the line is all sent
        status, _, _, _ = read_response(s)
        ms = (time.monotonic() - t0) * 1000.0
        s.close()
        print(f"64 KiB header line: {status} after {ms:.1f} ms")
        if status != 431 or ms > 1000:
            failures.append(f"64 KiB header line: {status} after {ms:.0f} ms")

        # One address over its cap is refused; another is served.
        capped = [connect(port, "127.0.0.200") for _ in range(CAP)]
        held.extend(capped)
        time.sleep(0.5)  # let the server accept them all
        s = connect(port, "127.0.0.200")
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            over, _, over_body, _ = read_response(s)
        except (EOFError, ConnectionError):
            over, over_body = 0, b""
        s.close()
        other = healthz_latencies(port, 20, "127.0.0.201")
        print(f"per-address cap {CAP}: connection {CAP + 1} from 127.0.0.200 -> {over} "
              f"{over_body[:60]!r}; 127.0.0.201 served, p99 {pct(other, 99):.1f} ms")
        if over != 429:
            failures.append(f"connection over the cap answered {over}, not 429")

        # One address over its request rate: 429 + Retry-After; another is fine.
        s = connect(port, "127.0.0.202")
        buf, codes, retry_after = b"", {}, None
        t0 = time.monotonic()
        for _ in range(BURST + 400):
            s.sendall(b"GET /status/0123456789abcdef0123456789abcdef HTTP/1.1\r\nHost: x\r\n\r\n")
            status, head, _, buf = read_response(s, buf)
            codes[status] = codes.get(status, 0) + 1
            if status == 429 and retry_after is None:
                retry_after = head.split(b"retry-after:")[1].split(b"\r\n")[0].strip() if b"retry-after:" in head else b"none"
        flood_s = time.monotonic() - t0
        s.close()
        s = connect(port, "127.0.0.203")
        s.sendall(b"GET /status/0123456789abcdef0123456789abcdef HTTP/1.1\r\nHost: x\r\n\r\n")
        other_status, _, _, _ = read_response(s)
        s.close()
        print(f"rate limit {RATE}/s burst {BURST}: {BURST + 400} requests from 127.0.0.202 in {flood_s:.2f} s -> "
              f"{dict(sorted(codes.items()))}, first Retry-After {retry_after!r}; 127.0.0.203 -> {other_status}")
        if codes.get(429, 0) == 0 or retry_after in (None, b"none"):
            failures.append("the flooding address got no 429 with Retry-After")
        if other_status != 404:
            failures.append(f"another address got {other_status} during the flood (want 404)")

        print(f"API peak RSS (VmHWM): {vm_hwm_mb(api.pid):.1f} MB with {len(held)} connections held")
    finally:
        for s in held:
            s.close()
        code = api.stop()
        if code != 0:
            failures.append(f"API exited with {code}")
    if failures:
        print("FAILED: " + "; ".join(failures))
        print("API log: " + os.path.join(work, "api.log"))
        sys.exit(1)
    print("abuse test passed")


if __name__ == "__main__":
    main()
