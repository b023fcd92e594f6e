// Browser test of the web app (ctest label `browser`): the real binary (API
// and one worker per stage), a real RabbitMQ (the ctest fixture's node, in a
// vhost of its own), Debian's chromium driven by playwright-core. Bounded:
// every wait has a deadline and the whole run stops itself after 240 s.
//
//   node webapp_test.mjs --bin build/photo-pipeline --source . --out <build dir>/browser
//
// Environment: PHOTO_TEST_AMQP_URL (the node), PHOTO_RMQ_DIR/PHOTO_RMQ_PORT
// (for scripts/rabbitmq.sh ctl). Prints the page's own weight and the time to
// show a gallery of 60 (Performance API; printed, not asserted).
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const BIN = path.resolve(args.bin);
const SOURCE = path.resolve(args.source);
const OUT = path.resolve(args.out);
const INPUTS = path.join(OUT, 'inputs');
const SHOTS = path.join(OUT, 'screenshots');
const VHOST = 'pp-browser';
const UPLOAD_TOKEN = 'upload-secret-token';
const ADMIN_TOKEN = 'admin-secret-token';
const HOSTILE_MAKE = '<img src=x onerror=alert(1)>';
const HOSTILE_FILE = '<img src=x onerror=alert(3)> & "quotes".jpg';
const started = Date.now();
const procs = [];
const results = [];
let browser = null;

const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
function log(...m) { console.log(`[${elapsed()}]`, ...m); }
function check(name, ok, detail = '') {
  results.push({ name, ok: !!ok, detail });
  log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
  if (!ok) throw new Error(`check failed: ${name} ${detail}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what, fn, timeoutMs, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function rmqctl(...a) {
  try {
    execFileSync(path.join(SOURCE, 'scripts/rabbitmq.sh'), ['ctl', ...a], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

function start(name, argv, env) {
  const logFile = fs.openSync(path.join(OUT, `${name}.log`), 'a');
  const p = spawn(BIN, argv, { env, stdio: ['ignore', logFile, logFile] });
  const entry = { name, p, exited: new Promise((r) => p.on('exit', r)) };
  procs.push(entry);
  return entry;
}

async function stop(entry) {
  if (entry.p.exitCode !== null || entry.p.signalCode !== null) return;
  entry.p.kill('SIGTERM');
  const t = setTimeout(() => entry.p.kill('SIGKILL'), 20000);
  await entry.exited;
  clearTimeout(t);
}

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  for (const e of procs.reverse()) await stop(e);
  rmqctl('delete_vhost', VHOST);
}

let base = '';
async function api(pathname, opts = {}) {
  const res = await fetch(base + pathname, opts);
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, headers: res.headers };
}
async function uploadFile(file, token = UPLOAD_TOKEN) {
  const form = new FormData();
  form.append('file', new Blob([fs.readFileSync(file)]), path.basename(file));
  return api('/upload/', { method: 'POST', body: form, headers: { Authorization: `Bearer ${token}` } });
}

// Reads GET /events until `done(text)` holds or `ms` pass.
async function readEvents(headers, done, ms) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), ms);
  let text = '';
  try {
    const res = await fetch(`${base}/events`, { headers, signal: ctl.signal });
    if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
      const dec = new TextDecoder();
      for await (const chunk of res.body) {
        text += dec.decode(chunk, { stream: true });
        if (done(text)) break;
      }
    }
  } catch { /* aborted: timed out */ }
  clearTimeout(timer);
  ctl.abort();
  return { ok: done(text), events: (text.match(/^event: image$/gm) || []).length };
}

async function main() {
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.mkdirSync(SHOTS, { recursive: true });
  execFileSync('/usr/bin/python3', [path.join(SOURCE, 'tests/browser/make_images.py'), INPUTS]);

  // A vhost of our own: fresh queues, no other test's jobs.
  rmqctl('delete_vhost', VHOST);
  check('vhost created', rmqctl('add_vhost', VHOST) && rmqctl('set_permissions', '-p', VHOST, 'guest', '.*', '.*', '.*'));
  const amqp = `${process.env.PHOTO_TEST_AMQP_URL.replace(/\/$/, '')}/${VHOST}`;
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    PHOTO_PIPELINE_AMQP_URL: amqp,
    PHOTO_PIPELINE_DATA_DIR: path.join(OUT, 'data'),
    PHOTO_PIPELINE_LISTEN: `127.0.0.1:${port}`,
    PHOTO_PIPELINE_API_TOKEN: UPLOAD_TOKEN,
    PHOTO_PIPELINE_ADMIN_TOKEN: ADMIN_TOKEN,
    PHOTO_PIPELINE_RETRY_DELAYS_MS: '200',
    PHOTO_PIPELINE_ACCESS_LOG: '0',
  };
  start('api', ['api'], env);
  start('resize', ['worker', 'resize'], env);
  // The operator scenario's broken worker: every watermark attempt fails
  // until the test replaces it, so the job parks after its 2 attempts.
  const badWatermark = start('watermark-faulty', ['worker', 'watermark'], { ...env, PHOTO_PIPELINE_FAULT_INJECT: 'watermark:99' });
  start('detect', ['worker', 'detect'], env);
  await waitFor('the API to be ready', async () => (await api('/readyz').catch(() => ({}))).status === 200, 60000);
  log(`API on ${base}, broker vhost ${VHOST}`);

  // 1. Park a job: it fails at watermark while the faulty worker runs.
  const park = await uploadFile(path.join(INPUTS, 'park.jpg'));
  check('upload of the job to park accepted', park.status === 202, `HTTP ${park.status}`);
  const parkId = park.json.id;
  const parked = await waitFor('the job to park', async () => {
    const r = await api(`/status/${parkId}`);
    return r.json?.status === 'failed' ? r.json : null;
  }, 30000);
  check('job parked at watermark with its reason', parked.error?.stage === 'watermark', JSON.stringify(parked.error));
  await stop(badWatermark);
  start('watermark', ['worker', 'watermark'], env);  // "the operator fixed it"

  // 60 more images for the gallery, through the API (in the background).
  const galleryFiles = fs.readdirSync(path.join(INPUTS, 'gallery')).map((f) => path.join(INPUTS, 'gallery', f));
  const galleryIds = [];
  const galleryUpload = (async () => {
    for (let i = 0; i < galleryFiles.length; i += 6) {
      const batch = await Promise.all(galleryFiles.slice(i, i + 6).map((f) => uploadFile(f)));
      for (const r of batch) if (r.status === 202) galleryIds.push(r.json.id);
    }
  })();

  // 2. The browser.
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const page = browser.pages()[0] || await browser.newPage();
  const dialogs = [];
  const pageErrors = [];
  const cspViolations = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy/i.test(m.text())) cspViolations.push(m.text());
  });

  const resp = await page.goto(`${base}/`, { waitUntil: 'load' });
  const csp = resp.headers()['content-security-policy'] || '';
  check('app served at / with a CSP without unsafe-inline', resp.status() === 200 && csp.includes("script-src 'self'") && !csp.includes('unsafe-inline'), csp);
  await page.waitForSelector('.dropzone');
  const weight = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const res = performance.getEntriesByType('resource').filter((r) => r.initiatorType !== 'img');
    const sum = (k) => [nav, ...res].reduce((n, e) => n + (e[k] || 0), 0);
    return { files: res.length + 1, decoded: sum('decodedBodySize'), transferred: sum('transferSize') };
  });
  log(`page weight before images: ${(weight.decoded / 1024).toFixed(1)} kB in ${weight.files} files (${(weight.transferred / 1024).toFixed(1)} kB on the wire); aim < 200 kB`);
  await page.evaluate(() => { window.__sameDocument = 'yes'; });

  // Keyboard: Tab reaches the drop zone (it opens the file picker).
  let reached = false;
  for (let i = 0; i < 12 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.classList.contains('dropzone'));
  }
  check('drop zone is reachable with Tab', reached);

  // 3. Without the token: the API's 401 in words next to the file.
  await page.setInputFiles('input[type=file]', path.join(INPUTS, 'photo-1.jpg'));
  const e401 = await page.waitForSelector('.card[data-status=rejected] .error', { timeout: 20000 });
  check('401 shown next to the file', (await e401.textContent()).includes('401'), await e401.textContent());

  await page.goto(`${base}/#/settings`);
  await page.fill('#token-upload', UPLOAD_TOKEN);
  await page.fill('#token-admin', ADMIN_TOKEN);
  await page.click('form.tokens button[type=submit]');
  await page.click('a[data-view=upload]');
  await page.evaluate(() => { window.__sameDocument = 'yes'; });

  // 4. Three photos through the file input; every card reaches completed live.
  const three = ['photo-1.jpg', 'photo-2.jpg', 'face.jpg'].map((f) => path.join(INPUTS, f));
  await page.setInputFiles('input[type=file]', three);
  await page.waitForFunction(() => {
    const cards = [...document.querySelectorAll('.card')].filter((c) => c.dataset.id);
    return cards.length >= 3 && cards.slice(0, 3).every((c) => c.dataset.status === 'completed');
  }, null, { timeout: 90000 });
  check('3 uploads reached completed on their cards without a reload', await page.evaluate(() => window.__sameDocument === 'yes'));
  const sawStages = await page.evaluate(() => [...document.querySelectorAll('.card[data-id] .stages li')].filter((li) => li.dataset.state === 'completed').length);
  check('stage chips followed the stages', sawStages >= 12, `${sawStages} completed chips`);

  // 5. A non-image shows the API's 415.
  await page.setInputFiles('input[type=file]', path.join(INPUTS, 'not-an-image.jpg'));
  const e415 = await page.waitForFunction(() => {
    const c = [...document.querySelectorAll('.card[data-status=rejected] .error')].map((e) => e.textContent);
    return c.find((t) => t.includes('415'));
  }, null, { timeout: 20000 });
  check('415 shown next to the non-image', true, await e415.jsonValue());

  // 6. Hostile EXIF text and file name.
  await page.setInputFiles('input[type=file]', path.join(INPUTS, HOSTILE_FILE));
  await page.waitForFunction(() => [...document.querySelectorAll('.card[data-id]')]
    .some((c) => c.querySelector('.name').textContent.includes('onerror') && c.dataset.status === 'completed'), null, { timeout: 60000 });
  await page.screenshot({ path: path.join(SHOTS, 'upload.png'), fullPage: true });

  // 7. Detail of the face photo: as many boxes as detections.faces.count.
  const faceId = await page.evaluate(() => [...document.querySelectorAll('.card[data-id]')]
    .find((c) => c.querySelector('.name').textContent === 'face.jpg').dataset.id);
  const faceRec = (await api(`/status/${faceId}`)).json;
  const want = faceRec.detections.faces.count;
  await page.click(`.card[data-id="${faceId}"] a.details`);
  await page.waitForFunction(() => document.querySelector('.frame img')?.complete);
  const boxes = await page.$$eval('.face-box', (els) => els.map((e) => {
    const b = e.getBoundingClientRect();
    const img = document.querySelector('.frame img').getBoundingClientRect();
    return { inside: b.left >= img.left - 1 && b.right <= img.right + 1 && b.top >= img.top - 1 && b.bottom <= img.bottom + 1, w: b.width };
  }));
  check('face boxes drawn = detections.faces.count', want >= 1 && boxes.length === want, `${boxes.length} drawn, count ${want}`);
  check('face boxes lie on the photo', boxes.every((b) => b.inside && b.w > 4));
  const stray = await page.evaluate(() => /\b(null|undefined|NaN|\[object)/.test(document.getElementById('main').textContent));
  check('no null/undefined shown on the detail page', !stray);
  await page.screenshot({ path: path.join(SHOTS, 'detail.png'), fullPage: true });

  // 7b. A client reconnecting with Last-Event-ID gets what it missed.
  const since = Date.parse(faceRec.created_at) - 1;
  const replay = await readEvents({ 'Last-Event-ID': `${since}-0` }, (text) => text.includes(`"id":"${faceId}"`) && text.includes('"status":"completed"'), 10000);
  check('Last-Event-ID replays the missed transitions', replay.ok, `${replay.events} events in the replay`);

  // 8. The hostile record renders as text.
  const list = (await api('/images?limit=100')).json.items;
  const hostile = list.find((r) => r.filename.includes('onerror'));
  await page.goto(`${base}/#/image/${hostile.id}`);
  await page.waitForSelector('.facts dl');
  const camera = await page.evaluate(() => {
    const dts = [...document.querySelectorAll('.facts dt')];
    const dt = dts.find((d) => d.textContent === 'Camera');
    return dt?.nextElementSibling?.textContent || '';
  });
  check('hostile EXIF Make shown as text', camera.includes(HOSTILE_MAKE), camera);
  const title = await page.textContent('h2.filename');
  check('hostile file name shown as text', title === hostile.filename, title);
  const injected = await page.evaluate(() => ({
    imgX: document.querySelectorAll('img[src="x"], img[src$="/x"]').length,
    scripts: document.querySelectorAll('script').length,
  }));
  check('no element came from record text', injected.imgX === 0 && injected.scripts === 1, JSON.stringify(injected));

  // 9. Gallery: page through everything (60 + ours), then time a page of 60.
  await galleryUpload;
  check('60 gallery images accepted', galleryIds.length === 60, `${galleryIds.length}`);
  await waitFor('the gallery images to complete', async () => {
    const r = await api('/images?status=completed&limit=100');
    return (r.json?.items || []).length >= 64;
  }, 90000, 500);
  const total = (await api('/images?limit=100')).json.items.length;
  await page.goto(`${base}/#/gallery`);
  const seen = [];
  for (let pageNo = 0; pageNo < 20; pageNo++) {
    await page.waitForFunction((n) => document.getElementById('main').dataset.page === String(n), pageNo);
    seen.push(...await page.$$eval('.grid .tile', (els) => els.map((e) => e.dataset.id)));
    if (pageNo === 0) {
      // Lazy thumbnails load as they scroll into view: show them all.
      await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
      await page.waitForFunction(() => [...document.querySelectorAll('.grid img')].every((i) => i.complete && i.naturalWidth > 0), null, { timeout: 20000 });
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: path.join(SHOTS, 'gallery.png'), fullPage: true });
    }
    const next = await page.$('.pager button[data-next]');
    if (await next.isDisabled()) break;
    await next.click();
  }
  check('gallery paged through every image once', seen.length === total && new Set(seen).size === total && total >= 60, `${seen.length} seen, ${total} listed`);
  // Filters: "with faces" leaves the one photo with a face.
  await page.goto(`${base}/#/gallery`);
  await page.waitForSelector('.grid .tile');
  await page.selectOption('#f-faces', 'true');
  await page.waitForFunction(() => document.querySelectorAll('.grid .tile').length === 1, null, { timeout: 10000 });
  check('the faces filter finds the face photo', await page.$eval('.grid .tile', (t) => t.dataset.id) === faceId);
  await page.selectOption('#f-faces', '');
  await page.waitForFunction(() => document.querySelectorAll('.grid .tile').length > 1, null, { timeout: 10000 });
  const lazy = await page.$$eval('.grid img', (els) => els.every((i) => i.loading === 'lazy' && i.srcset.includes('w,') && i.alt));
  check('thumbnails are lazy, have srcset and alt text', lazy);
  await page.goto(`${base}/#/gallery`);
  await page.waitForSelector('.grid .tile');
  const galleryMs = await page.evaluate(async () => {
    const t0 = performance.now();
    const sel = document.getElementById('f-limit');
    sel.value = '60';
    sel.dispatchEvent(new Event('change'));
    for (;;) {
      await new Promise((r) => requestAnimationFrame(r));
      const imgs = [...document.querySelectorAll('.grid img')];
      if (imgs.length < 60) continue;
      const visible = imgs.filter((i) => i.getBoundingClientRect().top < innerHeight);
      if (visible.every((i) => i.complete && i.naturalWidth > 0)) return performance.now() - t0;
    }
  });
  log(`time to show a gallery of 60 (loopback, visible thumbnails decoded): ${galleryMs.toFixed(0)} ms`);

  // 10. Operator view: replay the parked job; the image completes.
  await page.goto(`${base}/#/operator`);
  const job = await page.waitForSelector(`.job[data-id="${parkId}"]`, { timeout: 20000 });
  const reason = await job.textContent();
  check('parked job listed with its reason', reason.includes('injected_fault'), reason.slice(0, 120));
  const queuesText = await page.textContent('table.data');
  check('queue depth and consumers per stage shown', /consumer/.test(queuesText) && /watermark/.test(queuesText));
  await page.screenshot({ path: path.join(SHOTS, 'operator.png'), fullPage: true });
  await page.click(`.job[data-id="${parkId}"] button`);
  await page.waitForFunction(() => /Replayed/.test(document.querySelector('main .note')?.textContent || ''), null, { timeout: 20000 });
  const revived = await waitFor('the replayed image to complete', async () => {
    const r = await api(`/status/${parkId}`);
    return r.json?.status === 'completed' ? r.json : null;
  }, 30000);
  check('replayed job ran again and its image completed', revived.stages.watermark.attempts >= 3, `watermark attempts ${revived.stages.watermark.attempts}`);
  await page.waitForFunction((id) => !document.querySelector(`.job[data-id="${id}"]`), parkId, { timeout: 20000 });

  // 11. Readable at 360 px: nothing wider than the screen.
  await page.setViewportSize({ width: 360, height: 780 });
  for (const view of ['#/', '#/gallery', `#/image/${faceId}`, '#/operator']) {
    await page.goto(`${base}/${view}`);
    await page.waitForTimeout(600);
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    check(`no horizontal scrolling at 360 px on ${view.split('/')[1] || 'upload'}`, wide <= 360, `${wide}px`);
  }
  await page.goto(`${base}/#/gallery`);
  await page.waitForSelector('.grid .tile');
  await page.screenshot({ path: path.join(SHOTS, 'gallery-360.png') });

  check('no dialog opened', dialogs.length === 0, dialogs.join(' | '));
  check('no script error', pageErrors.length === 0, pageErrors.join(' | '));
  check('no CSP violation', cspViolations.length === 0, cspViolations.join(' | '));
  log(`screenshots in ${SHOTS}`);
}

const killer = setTimeout(async () => {
  console.error(`FAIL: the browser test ran over its 240 s budget`);
  await cleanup();
  process.exit(1);
}, 240000);

main()
  .then(async () => {
    clearTimeout(killer);
    await cleanup();
    log(`${results.length} checks passed`);
    process.exit(0);
  })
  .catch(async (e) => {
    clearTimeout(killer);
    console.error(`FAIL: ${e.stack || e}`);
    for (const f of fs.existsSync(OUT) ? fs.readdirSync(OUT).filter((n) => n.endsWith('.log')) : []) {
      const text = fs.readFileSync(path.join(OUT, f), 'utf8').split('\n').slice(-15).join('\n');
      console.error(`--- ${f} (last lines)\n${text}`);
    }
    await cleanup();
    process.exit(1);
  });
