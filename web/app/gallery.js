// The gallery: GET /images pages (newest first, opaque cursors), filters,
// thumbnails with srcset over the renditions and lazy loading.
import { h, clear } from './dom.js';
import { getJson } from './api.js';

const state = { status: '', faces: '', blurry: '', limit: 24, cursors: [''], page: 0 };

function srcset(renditions) {
  return Object.entries(renditions || {})
    .filter(([name, r]) => name !== 'original' && r.url && r.width)
    .sort((a, b) => a[1].width - b[1].width)
    .map(([, r]) => `${r.url} ${r.width}w`)
    .join(', ');
}

function tile(rec) {
  const r = rec.renditions || {};
  const thumb = r.thumb;
  const img = thumb
    ? h('img', {
      src: thumb.url, srcset: srcset(r), sizes: '(max-width: 480px) 45vw, 220px',
      loading: 'lazy', decoding: 'async', width: thumb.width, height: thumb.height,
      alt: `Photo ${rec.filename}`,
    })
    : h('div.placeholder', { role: 'img', 'aria-label': `No thumbnail yet for ${rec.filename}` }, rec.status);
  const faces = rec.detections?.faces?.count;
  return h('li.tile', { dataset: { id: rec.id, status: rec.status } },
    h('a', { href: `#/image/${encodeURIComponent(rec.id)}` },
      img,
      h('span.tile-name', null, rec.filename),
      h('span.tile-meta', null,
        h('span.badge', { dataset: { status: rec.status } }, rec.status),
        faces ? h('span.badge', null, `${faces} face${faces === 1 ? '' : 's'}`) : null,
        rec.detections?.blurry ? h('span.badge', null, 'blurry') : null)));
}

function query() {
  const p = new URLSearchParams({ limit: String(state.limit) });
  if (state.status) p.set('status', state.status);
  if (state.faces) p.set('has_faces', state.faces);
  if (state.blurry) p.set('blurry', state.blurry);
  const cursor = state.cursors[state.page];
  if (cursor) p.set('cursor', cursor);
  return `/images?${p}`;
}

function select(label, key, options) {
  const id = `f-${key}`;
  const sel = h('select', {
    id,
    onchange: () => {
      state[key] = key === 'limit' ? Number(sel.value) : sel.value;
      state.cursors = [''];
      state.page = 0;
      load();
    },
  }, options.map(([v, t]) => h('option', { value: v, selected: String(state[key]) === v }, t)));
  return h('div.field', null, h('label', { for: id }, label), sel);
}

let root = null;
let grid = null;
let pager = null;
let note = null;

async function load() {
  note.textContent = 'Loading…';
  let page;
  try {
    page = await getJson(query());
  } catch (e) {
    note.textContent = `Could not load the gallery: ${e.words || e}`;
    return;
  }
  clear(grid).append(...page.items.map(tile));
  state.cursors[state.page + 1] = page.next_cursor || '';
  const n = page.items.length;
  note.textContent = n ? `Page ${state.page + 1}: ${n} image${n === 1 ? '' : 's'}` : 'No images match.';
  clear(pager).append(
    h('button', { type: 'button', disabled: state.page === 0, onclick: () => { state.page--; load(); } }, 'Previous'),
    h('button', { type: 'button', disabled: !page.next_cursor, 'data-next': true, onclick: () => { state.page++; load(); } }, 'Next'));
  root.dataset.page = String(state.page);
  performance.mark(`gallery-page-${state.page}`);
}

export function renderGallery(el) {
  root = el;
  grid = h('ul.grid', { 'aria-label': 'Images' });
  pager = h('div.pager');
  note = h('p.note', { role: 'status' });
  clear(el).append(
    h('h2', null, 'Gallery'),
    h('form.filters', { onsubmit: (e) => e.preventDefault(), 'aria-label': 'Filters' },
      select('Status', 'status', [['', 'any'], ['uploaded', 'uploaded'], ['processing', 'processing'], ['completed', 'completed'], ['failed', 'failed']]),
      select('Faces', 'faces', [['', 'any'], ['true', 'with faces'], ['false', 'without faces']]),
      select('Sharpness', 'blurry', [['', 'any'], ['true', 'blurry'], ['false', 'sharp']]),
      select('Per page', 'limit', [['12', '12'], ['24', '24'], ['60', '60'], ['100', '100']])),
    note, grid, pager);
  load();
}
