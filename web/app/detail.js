// One image: every rendition with its size and bytes, face boxes over the
// medium rendition, EXIF summary (camera and capture time; GPS is never
// shown), dominant colours, sharpness, per-stage timings and attempts, and
// similar photos when the API has that route.
import { h, clear, fill, formatBytes, formatMs, formatTime, safeColor } from './dom.js';
import { getJson, ApiError } from './api.js';
import { STAGES } from './cards.js';
import { onImageEvent } from './events.js';

// Face boxes are in the pixel space of the image the detect stage analysed
// (faces.analysed_width x analysed_height, the clean rendition). Positions in
// percent of that space land on the same spot of any rendition of the same
// photo (all share its aspect ratio) at any displayed size.
function faceLayer(faces) {
  const w = faces?.analysed_width;
  const hgt = faces?.analysed_height;
  const layer = h('div.faces', { 'aria-hidden': 'true' });
  if (!w || !hgt) return layer;
  for (const b of faces.boxes || []) {
    const box = h('div.face-box', { title: `face, score ${Number(b.score).toFixed(2)}` });
    box.style.left = `${(b.x / w) * 100}%`;
    box.style.top = `${(b.y / hgt) * 100}%`;
    box.style.width = `${(b.width / w) * 100}%`;
    box.style.height = `${(b.height / hgt) * 100}%`;
    layer.append(box);
  }
  return layer;
}

function pick(renditions) {
  for (const name of ['medium', 'large', 'thumb']) if (renditions?.[name]?.url) return [name, renditions[name]];
  const any = Object.entries(renditions || {}).find(([n, r]) => n !== 'original' && r.url);
  return any || [null, null];
}

function row(label, value) {
  return [h('dt', null, label), h('dd', null, value)];
}

function renditionsTable(renditions) {
  const rows = Object.entries(renditions || {}).map(([name, r]) =>
    h('tr', null,
      h('th', { scope: 'row' }, name),
      h('td', null, r.width && r.height ? `${r.width} × ${r.height}` : '—'),
      h('td', null, formatBytes(r.bytes)),
      h('td', null, r.format || '—'),
      h('td', null, r.watermarked ? 'yes' : 'no'),
      h('td', null, name === 'original' ? 'private' : h('a', { href: r.url, target: '_blank', rel: 'noopener' }, 'open'))));
  return h('table.data', null,
    h('caption', null, 'Renditions'),
    h('thead', null, h('tr', null, ['name', 'size', 'bytes', 'format', 'watermark', ''].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, rows));
}

function stagesTable(rec) {
  const rows = STAGES.map((s) => {
    const st = rec.stages?.[s] || {};
    return h('tr', { dataset: { stage: s, state: st.state || 'pending' } },
      h('th', { scope: 'row' }, s),
      h('td', null, st.state || 'pending'),
      h('td', null, String(st.attempts ?? 0)),
      h('td', null, String(st.redeliveries ?? 0)),
      h('td', null, formatMs(st.duration_ms)),
      h('td', null, formatMs(st.cpu_ms)),
      h('td', null, st.error ? `${st.error.code}: ${st.error.message}` : ''));
  });
  return h('table.data', null,
    h('caption', null, 'Stages'),
    h('thead', null, h('tr', null, ['stage', 'state', 'attempts', 'redeliveries', 'wall', 'CPU', 'last error'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, rows));
}

function colours(list) {
  const items = (list || []).map((c) => {
    const hex = safeColor(c.hex);
    const sw = h('span.swatch', { 'aria-hidden': 'true' });
    if (hex) sw.style.backgroundColor = hex;
    return h('li', null, sw, h('span', null, `${c.hex} ${(c.share * 100).toFixed(0)} %`));
  });
  return items.length ? h('ul.swatches', { 'aria-label': 'Dominant colours' }, items) : h('p', null, '—');
}

async function similar(id, box) {
  let res;
  try {
    res = await getJson(`/images/${encodeURIComponent(id)}/similar`);
  } catch (e) {
    // 404: no similarity route on this server (or nothing known yet).
    box.hidden = !(e instanceof ApiError) || e.status === 404 || e.status === 405;
    if (!box.hidden) box.append(h('p', null, `Could not load similar photos: ${e.words || e}`));
    return;
  }
  const items = Array.isArray(res) ? res : res.items || res.similar || [];
  const mine = items.filter((x) => (x.id || x) !== id);
  box.hidden = false;
  box.append(mine.length
    ? h('ul.grid.small', null, mine.slice(0, 12).map((x) => {
      const sid = x.id || x;
      return h('li.tile', null, h('a', { href: `#/image/${encodeURIComponent(sid)}` },
        h('img', { src: x.thumb || `/images/${encodeURIComponent(sid)}/thumb`, loading: 'lazy', alt: `Similar photo ${x.filename || sid}`, width: 160, height: 120 }),
        x.distance !== undefined ? h('span.tile-meta', null, `distance ${x.distance}`) : null));
    }))
    : h('p', null, 'No similar photos found.'));
}

let unsubscribe = null;

export async function renderDetail(root, id) {
  if (unsubscribe) unsubscribe();
  clear(root).append(h('p.note', { role: 'status' }, 'Loading…'));
  let rec;
  try {
    rec = await getJson(`/status/${encodeURIComponent(id)}`);
  } catch (e) {
    clear(root).append(h('h2', null, 'Image'), h('p.error', null, e.words || String(e)));
    return;
  }
  // Re-render once when the image finishes while it is open.
  unsubscribe = onImageEvent((data) => {
    if (data.id === id && data.status !== rec.status && location.hash === `#/image/${encodeURIComponent(id)}`) {
      renderDetail(root, id);
    }
  });
  const d = rec.detections;
  const [name, main] = pick(rec.renditions);
  const figure = main
    ? h('figure.photo', null,
      h('div.frame', null,
        h('img', { src: main.url, width: main.width, height: main.height, alt: `Photo ${rec.filename}${d ? `, ${d.faces?.count ?? 0} face(s) marked` : ''}` }),
        faceLayer(d?.faces)),
      h('figcaption', null, `${name} rendition, ${main.width} × ${main.height}`))
    : h('p.note', null, 'No rendition yet.');
  const exif = d?.exif || {};
  const simBox = h('section.similar', { hidden: true, 'aria-label': 'Similar photos' }, h('h3', null, 'Similar photos'));
  fill(root,
    h('h2.filename', null, rec.filename),
    h('p.meta', null, h('span.badge', { dataset: { status: rec.status } }, rec.status), ` id ${rec.id}`),
    rec.error ? h('p.error', null, `failed at ${rec.error.stage}: ${rec.error.code} — ${rec.error.message}`) : null,
    h('div.detail', null,
      figure,
      h('section.facts', { 'aria-label': 'Analysis' },
        h('h3', null, 'Analysis'),
        h('dl', null,
          row('Faces', d ? String(d.faces?.count ?? 0) : '—'),
          row('Camera', exif.camera || '—'),
          row('Captured', exif.captured_at || '—'),
          row('Sharpness', d ? `${Number(d.sharpness).toFixed(1)}${d.blurry ? ' (blurry)' : ''}` : '—'),
          row('Content', rec.content_status || '—'),
          row('Uploaded', formatTime(rec.created_at)),
          row('Finished', formatTime(rec.completed_at))),
        h('h3', null, 'Dominant colours'),
        colours(d?.dominant_colors))),
    renditionsTable(rec.renditions),
    stagesTable(rec),
    simBox);
  root.dataset.faces = String(d?.faces?.boxes?.length ?? 0);
  similar(id, simBox);
}
