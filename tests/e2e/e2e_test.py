#!/usr/bin/python3
"""End-to-end tests against a real RabbitMQ node (started by the ctest fixture
or by the caller; its URL in PHOTO_TEST_AMQP_URL) with the real binary:
API + 2 worker processes per stage + an events listener.

usage: e2e_test.py --bin build/photo-pipeline [--images 200]
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pp  # noqa: E402

ARGS = None
SYSTEM = None
ADMIN_TOKEN = "e2e-admin-token"
ADMIN = {"Authorization": "Bearer " + ADMIN_TOKEN}
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

CTYPES = {"jpeg": "image/jpeg", "webp": "image/webp", "avif": "image/avif", "png": "image/png"}


def setUpModule():
    global SYSTEM
    work = tempfile.mkdtemp(prefix="pp-e2e-")
    SYSTEM = pp.System(ARGS.bin, ARGS.amqp_url, work, workers_per_stage=2,
                       extra_env={"PHOTO_PIPELINE_ADMIN_TOKEN": ADMIN_TOKEN})
    SYSTEM.start(events_queue="e2e." + uuid.uuid4().hex[:8])


def tearDownModule():
    codes = SYSTEM.stop()
    bad = {k: v for k, v in codes.items() if v != 0}
    if bad:
        print("processes that did not exit 0 on SIGTERM:", bad, file=sys.stderr)
    if not bad:
        shutil.rmtree(SYSTEM.work_dir, ignore_errors=True)
    assert not bad, bad


class EndToEnd(unittest.TestCase):
    def upload_ok(self, data, filename="photo.jpg", path="/upload/"):
        status, headers, body = SYSTEM.api.upload(data, filename=filename, path=path)
        self.assertEqual(status, 202, body)
        j = json.loads(body)
        self.assertEqual(j["status"], "uploaded")
        self.assertEqual(j["status_url"], "/status/" + j["id"])
        return j

    @staticmethod
    def workers_readyz_become(code, timeout):
        """True once every worker's /readyz answers `code` (polled until `timeout` s)."""
        deadline = time.time() + timeout
        while True:
            if all(w.metrics.request("GET", "/readyz")[0] == code for w in SYSTEM.workers):
                return True
            if time.time() >= deadline:
                return False
            time.sleep(0.5)

    def wait_events(self, ids, timeout):
        ids = set(ids)
        ok = SYSTEM.events.wait_for(lambda evs: ids <= {e.get("id") for e in evs}, timeout)
        self.assertTrue(ok, f"events missing for {len(ids - SYSTEM.events.ids())} images")

    def test_01_upload_to_event_to_status_to_download(self):
        up = self.upload_ok(pp.make_jpeg(1600, 1200, seed=1), filename="../../etc/x\t.jpg")
        self.assertEqual(up["filename"], "x.jpg")
        self.wait_events([up["id"]], 60)
        ev = [e for e in SYSTEM.events.events if e["id"] == up["id"]][0]
        for key in ("id", "filename", "status", "content_status", "event_id", "renditions",
                    "detections", "completed_at"):
            self.assertIn(key, ev)
        self.assertEqual(ev["status"], "completed")
        status, rec = SYSTEM.api.json("GET", "/status/" + up["id"])
        self.assertEqual(status, 200)
        self.assertEqual(rec["status"], "completed")
        self.assertIsNotNone(rec["content_status"])
        self.assertIn("faces", rec["detections"])
        self.assertEqual(set(rec["renditions"]) & {"thumb", "medium", "large"},
                         {"thumb", "medium", "large"})
        self.assertTrue(rec["path"])
        for stage in ("resize", "watermark", "detect"):
            self.assertEqual(rec["stages"][stage]["state"], "completed")
        for name, r in rec["renditions"].items():
            # The original is private (admin token or signed link); the rest is public.
            auth = ADMIN if name == "original" else {}
            if auth:
                self.assertEqual(SYSTEM.api.request("GET", r["url"])[0], 401)
            st, headers, body = SYSTEM.api.request("GET", r["url"], headers=dict(auth))
            self.assertEqual(st, 200, name)
            self.assertEqual(headers["content-type"], CTYPES[r["format"]], name)
            self.assertEqual(len(body), r["bytes"], name)
            self.assertTrue(headers.get("etag"))
            st2, _, _ = SYSTEM.api.request("GET", r["url"], headers={"If-None-Match": headers["etag"], **auth})
            self.assertEqual(st2, 304)
        self.assertEqual(max(rec["renditions"]["large"]["width"], rec["renditions"]["large"]["height"]), 1600)
        st, headers, body = SYSTEM.api.request("GET", f"/images/{up['id']}/original", headers=dict(ADMIN))
        self.assertEqual(st, 200)
        self.assertEqual(headers["content-type"], "image/jpeg")

    def test_02_compat_route_without_slash(self):
        up = self.upload_ok(pp.make_jpeg(640, 480, seed=2), path="/upload")
        self.wait_events([up["id"]], 60)

    def test_03_unknown_id_404(self):
        for path in ("/status/" + "0" * 32, "/status/nope", "/images/" + "0" * 32 + "/thumb"):
            status, body = SYSTEM.api.json("GET", path)
            self.assertEqual(status, 404, path)
            self.assertEqual(body["error"]["code"], "not_found")

    def test_04_non_image_415_nothing_stored(self):
        before = SYSTEM.data_files()
        status, _, body = SYSTEM.api.upload(b"hello, I am not a photo\n" * 10, filename="evil.jpg")
        self.assertEqual(status, 415, body)
        self.assertEqual(json.loads(body)["error"]["code"], "unsupported_media_type")
        self.assertEqual(SYSTEM.data_files(), before)

    def test_05_many_images_two_processes_per_stage(self):
        n = ARGS.images
        ids = []
        t0 = time.time()
        for i in range(n):
            ids.append(self.upload_ok(pp.make_jpeg(800, 600, seed=1000 + i, quality=80))["id"])
        self.wait_events(ids, 60 + n * 1.0)
        print(f"\n  {n} images completed in {time.time() - t0:.1f}s", file=sys.stderr)
        completed = [e for e in SYSTEM.events.events if e["id"] in set(ids)]
        by_id = {}
        for e in completed:
            by_id.setdefault(e["id"], set()).add(e["event_id"])
        # At-least-once: a duplicate event may arrive, but only with an event_id seen before.
        self.assertTrue(all(len(v) == 1 for v in by_id.values()))
        for i in ids:
            status, rec = SYSTEM.api.json("GET", "/status/" + i)
            self.assertEqual(rec["status"], "completed", i)
            for stage in ("resize", "watermark", "detect"):
                self.assertEqual(rec["stages"][stage]["state"], "completed")
        self.assertEqual(len(set(ids)), n)

    def scrape(self, api):
        status, _, body = api.request("GET", "/metrics")
        self.assertEqual(status, 200)
        return pp.parse_metrics(body.decode())

    def test_06_metrics_move_by_the_right_amounts(self):
        workers = [w for w in SYSTEM.workers if w.alive()]
        def jobs(stage):
            return sum(pp.metric(self.scrape(w.metrics), "photo_jobs_total", stage=stage, outcome="ack")
                       for w in workers if w.stage == stage)
        api0 = self.scrape(SYSTEM.api)
        before = {s: jobs(s) for s in ("resize", "watermark", "detect")}
        finished0 = sum(pp.metric(self.scrape(w.metrics), "photo_images_finished_total")
                        for w in workers if w.stage == "detect")
        n = 5
        ids = [self.upload_ok(pp.make_jpeg(640, 480, seed=5000 + i))["id"] for i in range(n)]
        status, _, _ = SYSTEM.api.upload(b"not an image at all", filename="x.jpg")
        self.assertEqual(status, 415)
        self.wait_events(ids, 120)
        api1 = self.scrape(SYSTEM.api)
        self.assertEqual(pp.metric(api1, "photo_uploads_total", result="accepted")
                         - pp.metric(api0, "photo_uploads_total", result="accepted"), n)
        self.assertEqual(pp.metric(api1, "photo_upload_rejects_total", reason="unsupported_media_type")
                         - pp.metric(api0, "photo_upload_rejects_total", reason="unsupported_media_type"), 1)
        for stage in ("resize", "watermark", "detect"):
            self.assertEqual(jobs(stage) - before[stage], n, stage)
        finished1 = sum(pp.metric(self.scrape(w.metrics), "photo_images_finished_total")
                        for w in workers if w.stage == "detect")
        self.assertEqual(finished1 - finished0, n)
        for w in workers:
            st, _, _ = w.metrics.request("GET", "/readyz")
            self.assertEqual(st, 200, w.name)

    def test_99_broker_down_503_nothing_stored(self):
        env = dict(os.environ)
        r = pp.rabbitmq(os.path.join(REPO, "scripts"), "stop", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        try:
            before = SYSTEM.data_files()
            deadline = time.time() + 30
            status = None
            while time.time() < deadline:
                status, headers, body = SYSTEM.api.upload(pp.make_jpeg(320, 240, seed=9))
                if status == 503:
                    break
                time.sleep(0.5)
            self.assertEqual(status, 503, body)
            self.assertIn("retry-after", headers)
            self.assertEqual(SYSTEM.data_files(), before)
            st, _, _ = SYSTEM.api.request("GET", "/readyz")
            self.assertEqual(st, 503)
            # Workers report not ready while their consumers are down.
            self.assertTrue(self.workers_readyz_become(503, 30))
        finally:
            r = pp.rabbitmq(os.path.join(REPO, "scripts"), "start", env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
        # The API recovers by itself once the broker is back.
        self.assertTrue(SYSTEM.api.wait_ready(60))
        self.assertTrue(self.workers_readyz_become(200, 90))
        up = self.upload_ok(pp.make_jpeg(320, 240, seed=10))
        self.wait_events([up["id"]], 90)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--amqp-url", default=os.environ.get("PHOTO_TEST_AMQP_URL",
                                                         "amqp://guest:guest@127.0.0.1:5672/"))
    ap.add_argument("--images", type=int, default=200)
    ARGS, rest = ap.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
