#!/usr/bin/python3
"""The front door with the real broker and the real binary (API + one worker
per stage + an events listener), renditions private (signed links only):

- the URLs in a processed_images event and in a GET /events (SSE) event
  download without credentials; tampered ones get 403, unsigned ones 401;
- an image deleted while a worker is busy with it ends without files: the
  worker (held after writing its outputs by PHOTO_PIPELINE_FAULT_PAUSE)
  erases what it wrote, acks, and publishes no further job or event.

usage: front_test.py --bin build/photo-pipeline   (PHOTO_TEST_AMQP_URL: the broker)
"""
import argparse
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pp  # noqa: E402

ARGS = None
SYSTEM = None
ADMIN = {"Authorization": "Bearer front-e2e-admin"}
PAUSE_MS = 3000  # the resize worker holds each job this long before recording it


def setUpModule():
    global SYSTEM
    work = tempfile.mkdtemp(prefix="pp-front-")
    SYSTEM = pp.System(ARGS.bin, ARGS.amqp_url, work, extra_env={
        "PHOTO_PIPELINE_ADMIN_TOKEN": "front-e2e-admin",
        "PHOTO_PIPELINE_SIGNING_KEY": "front-e2e-signing-key",
        "PHOTO_PIPELINE_RENDITIONS_PUBLIC": "0",
        "PHOTO_PIPELINE_FAULT_PAUSE": f"resize:{PAUSE_MS}",
    })
    SYSTEM.start(events_queue="front." + uuid.uuid4().hex[:8])


def tearDownModule():
    codes = SYSTEM.stop()
    bad = {k: v for k, v in codes.items() if v != 0}
    if not bad:
        shutil.rmtree(SYSTEM.work_dir, ignore_errors=True)
    assert not bad, bad


def tampered(url):
    """The same link with the last hex digit of its signature changed."""
    return url[:-1] + ("0" if url[-1] != "0" else "1")


class SseReader:
    """GET /events in a thread; keeps every `image` event's JSON."""

    def __init__(self):
        self.events = []
        self.cond = threading.Condition()
        self.conn = http.client.HTTPConnection("127.0.0.1", SYSTEM.port, timeout=60)
        self.conn.request("GET", "/events")
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200, self.resp.status
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            for raw in iter(self.resp.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if line.startswith("data: {") and '"id"' in line:
                    with self.cond:
                        self.events.append(json.loads(line[6:]))
                        self.cond.notify_all()
        except (OSError, ValueError):
            pass

    def wait_for(self, predicate, timeout):
        with self.cond:
            return self.cond.wait_for(lambda: any(predicate(e) for e in self.events), timeout)

    def close(self):
        self.conn.close()


class Front(unittest.TestCase):
    def upload(self, seed):
        status, _, body = SYSTEM.api.upload(pp.make_jpeg(800, 600, seed=seed))
        self.assertEqual(status, 202, body)
        return json.loads(body)["id"]

    def assert_link_works(self, url, what):
        self.assertIn("sig=", url, what)
        st, headers, body = SYSTEM.api.request("GET", url)
        self.assertEqual(st, 200, f"{what}: {url}")
        self.assertTrue(body)
        self.assertEqual(SYSTEM.api.request("GET", tampered(url))[0], 403, what)
        self.assertEqual(SYSTEM.api.request("GET", url.split("?")[0])[0], 401, what)  # no credentials

    def test_event_urls_are_signed_and_download(self):
        sse = SseReader()
        try:
            image_id = self.upload(seed=21)
            self.assertTrue(SYSTEM.events.wait_for(
                lambda evs: any(e.get("id") == image_id for e in evs), 90), "no processed_images event")
            ev = [e for e in SYSTEM.events.events if e.get("id") == image_id][0]
            self.assertEqual(ev["status"], "completed")
            self.assertTrue({"thumb", "large"} <= set(ev["renditions"]))
            for name, r in ev["renditions"].items():
                self.assert_link_works(r["url"], f"event rendition {name}")
            self.assertTrue(sse.wait_for(lambda e: e["id"] == image_id and e.get("thumb"), 30),
                            "no SSE event with a thumbnail")
            thumb = [e for e in sse.events if e["id"] == image_id and e.get("thumb")][-1]["thumb"]
            self.assert_link_works(thumb, "SSE thumb")
        finally:
            sse.close()

    @staticmethod
    def acks_by_later_stages():
        out = {}
        for w in SYSTEM.workers:
            if w.stage != "resize":
                _, _, text = w.metrics.request("GET", "/metrics")
                out[w.name] = pp.metric(pp.parse_metrics(text.decode()), "photo_jobs_total", outcome="ack")
        return out

    def test_delete_while_a_worker_holds_the_job(self):
        acks_before = self.acks_by_later_stages()
        image_id = self.upload(seed=22)
        image_dir = os.path.join(SYSTEM.work_dir, "data", "images", image_id[:2], image_id)
        # Wait until resize has written renditions beside the original (the
        # worker then holds the job for PAUSE_MS before recording them).
        deadline = time.time() + 60
        while time.time() < deadline:
            written = [f for _, _, fs in os.walk(image_dir) for f in fs if f != "original"]
            if written:
                break
            time.sleep(0.05)
        self.assertTrue(written, "resize never wrote its outputs")
        st, rec = SYSTEM.api.json("GET", "/status/" + image_id)
        self.assertEqual(rec["stages"]["resize"]["state"], "processing")
        st, _, body = SYSTEM.api.request("DELETE", "/images/" + image_id, headers=dict(ADMIN))
        self.assertEqual(st, 204, body)
        self.assertEqual(SYSTEM.api.request("GET", "/status/" + image_id)[0], 404)

        resize = [w for w in SYSTEM.workers if w.stage == "resize"][0]
        deadline = time.time() + PAUSE_MS / 1000 + 30
        dropped = 0
        while time.time() < deadline:
            _, _, text = resize.metrics.request("GET", "/metrics")
            dropped = pp.metric(pp.parse_metrics(text.decode()), "photo_jobs_image_deleted_total",
                                stage="resize")
            if dropped and dropped >= 1:
                break
            time.sleep(0.2)
        self.assertGreaterEqual(dropped or 0, 1, "the resize job never saw the deletion")
        self.assertFalse(os.path.exists(image_dir), os.listdir(image_dir) if os.path.exists(image_dir) else "")
        # No later stage ran and no outcome event came; the deletion was announced.
        self.assertTrue(SYSTEM.events.wait_for(
            lambda evs: any(e.get("id") == image_id and e.get("status") == "deleted" for e in evs), 30))
        time.sleep(2)
        statuses = [e.get("status") for e in SYSTEM.events.events if e.get("id") == image_id]
        self.assertEqual(statuses, ["deleted"])
        self.assertEqual(self.acks_by_later_stages(), acks_before)
        st, _, body = SYSTEM.api.request("GET", "/admin/parked", headers=dict(ADMIN))
        self.assertEqual(st, 200, body)
        self.assertNotIn(image_id, body.decode())


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--amqp-url", default=os.environ.get("PHOTO_TEST_AMQP_URL",
                                                         "amqp://guest:guest@127.0.0.1:5672/"))
    ARGS, rest = ap.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
