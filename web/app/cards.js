// A card per image following it through resize → watermark → detect →
// completed / failed. Fed by GET /events summaries and by /status records
// (both normalised by toSummary); a version older than what the card shows
// is ignored, so replays and duplicates after a reconnect are harmless.
import { h } from './dom.js';

export const STAGES = ['resize', 'watermark', 'detect'];

// A /status record or an event's data -> {id, status, stages, error, thumb, updatedMs}.
export function toSummary(rec) {
  const stages = {};
  for (const s of STAGES) stages[s] = rec.stages?.[s] || { state: 'pending' };
  const thumb = rec.thumb !== undefined ? rec.thumb : rec.renditions?.thumb?.url || null;
  const updatedMs = rec.updated_at_ms ?? (Date.parse(rec.updated_at) || 0);
  return { id: rec.id, filename: rec.filename, status: rec.status, stages, error: rec.error, thumb, updatedMs };
}

function describe(s) {
  if (s.status === 'completed') return 'completed';
  if (s.status === 'failed') {
    const e = s.error || {};
    return `failed at ${e.stage || '?'}: ${e.code || 'error'}${e.message ? ` — ${e.message}` : ''}`;
  }
  for (const st of STAGES) {
    const state = s.stages[st].state;
    if (state === 'processing') return `${st}: processing`;
    if (state === 'retrying') {
      const err = s.stages[st].error;
      return `${st}: retrying${err ? ` after ${err.code}` : ''}`;
    }
  }
  const next = STAGES.find((st) => s.stages[st].state !== 'completed');
  return next ? `waiting for ${next}` : s.status;
}

export class Card {
  constructor(filename) {
    this.updatedMs = -1;
    this.id = '';
    this.thumb = h('img.thumb', { alt: `Thumbnail of ${filename}`, hidden: true, width: 160, height: 120 });
    this.progress = h('progress', { max: 1, value: 0, 'aria-label': `Upload progress of ${filename}` });
    this.stageEls = {};
    const steps = [...STAGES, 'done'].map((st) => {
      const li = h('li', { dataset: { state: 'pending' } }, st === 'done' ? 'completed' : st);
      this.stageEls[st] = li;
      return li;
    });
    this.statusEl = h('p.status', { role: 'status' }, 'waiting to upload');
    this.errorEl = h('p.error', { hidden: true });
    this.link = h('a.details', { hidden: true }, 'Details');
    this.el = h('li.card', { dataset: { status: 'queued' } },
      this.thumb,
      h('div.card-body', null,
        h('p.name', { title: filename }, filename),
        this.progress,
        h('ol.stages', { 'aria-label': 'Stages' }, steps),
        this.statusEl, this.errorEl, this.link));
  }

  uploading(fraction) {
    this.el.dataset.status = 'uploading';
    this.progress.value = fraction;
    this.statusEl.textContent = `uploading ${Math.round(fraction * 100)} %`;
  }

  accepted(id) {
    this.id = id;
    this.el.dataset.id = id;
    this.el.dataset.status = 'uploaded';
    this.statusEl.textContent = 'uploaded, waiting for resize';
    this.link.href = `#/image/${encodeURIComponent(id)}`;
    this.link.hidden = false;
  }

  rejected(err) {
    this.el.dataset.status = 'rejected';
    this.progress.hidden = true;
    this.statusEl.textContent = 'not accepted';
    this.errorEl.hidden = false;
    this.errorEl.textContent = err.words || String(err);
  }

  // `record`: a /status record of the same version may still bring what an
  // event does not (signed rendition URLs), so it applies at equal versions.
  apply(summary, record = false) {
    const s = toSummary(summary);
    if (s.updatedMs < this.updatedMs || (s.updatedMs === this.updatedMs && !record)) return;
    this.updatedMs = s.updatedMs;
    this.el.dataset.status = s.status;
    this.progress.hidden = true;
    for (const st of STAGES) this.stageEls[st].dataset.state = s.stages[st].state;
    this.stageEls.done.dataset.state = s.status === 'completed' ? 'completed' : s.status === 'failed' ? 'failed' : 'pending';
    this.stageEls.done.textContent = s.status === 'failed' ? 'failed' : 'completed';
    this.statusEl.textContent = describe(s);
    if (s.status === 'failed') {
      this.errorEl.hidden = false;
      this.errorEl.textContent = describe(s);
    }
    if (s.thumb && (this.thumb.hidden || record)) {
      this.thumb.src = s.thumb;
      this.thumb.hidden = false;
    }
  }
}
