// The operator view: queue depth and consumers per stage, parked jobs with
// their reasons and a replay button, failed images. Admin routes take the
// admin token (Tokens view).
import { h, clear, formatTime } from './dom.js';
import { getJson, postJson } from './api.js';

function queueCell(q) {
  if (!q || !q.exists) return h('td', null, '—');
  return h('td', null, `${q.messages} ready · ${q.consumers} consumer${q.consumers === 1 ? '' : 's'}`);
}

function queuesTable(stats) {
  return h('table.data', null,
    h('caption', null, 'Queues'),
    h('thead', null, h('tr', null, ['stage', 'work queue', 'retrying', 'parked'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, stats.stages.map((s) => {
      const retrying = (s.retry || []).reduce((n, q) => n + (q.messages || 0), 0);
      return h('tr', { dataset: { stage: s.stage } },
        h('th', { scope: 'row' }, s.stage),
        queueCell(s.work),
        h('td', null, String(retrying)),
        h('td', null, String(s.parking?.messages ?? 0)));
    })));
}

function parkedList(jobs, reload, say) {
  if (!jobs.length) return h('p', null, 'No parked jobs.');
  return h('ul.parked', { 'aria-label': 'Parked jobs' }, jobs.map((j) => {
    const btn = h('button', {
      type: 'button',
      'aria-label': `Replay ${j.filename || j.message_id}`,
      onclick: async () => {
        btn.disabled = true;
        try {
          const r = await postJson(`/admin/parked/${encodeURIComponent(j.stage)}/${encodeURIComponent(j.message_id)}/replay`, { auth: 'admin' });
          say(r.replayed ? `Replayed ${j.filename || j.message_id} into ${j.stage}.` : 'It was no longer parked.');
          reload();
        } catch (e) {
          say(`Replay failed: ${e.words || e}`);
          btn.disabled = false;
        }
      },
    }, 'Replay');
    return h('li.job', { dataset: { id: j.image_id, stage: j.stage } },
      h('p.name', null, j.filename || '(no file name)'),
      h('p', null, `${j.stage} · ${j.error_code || 'unknown'}: ${j.error_message || ''}`),
      h('p.meta', null, `attempts ${j.attempts}, parked ${formatTime(j.parked_at)}${j.replays ? `, replayed ${j.replays}×` : ''}`),
      j.image_id ? h('a', { href: `#/image/${encodeURIComponent(j.image_id)}` }, 'image') : null,
      ' ', btn);
  }));
}

function failedList(items) {
  if (!items.length) return h('p', null, 'No failed images.');
  return h('ul.failed', { 'aria-label': 'Failed images' }, items.map((r) =>
    h('li', { dataset: { id: r.id } },
      h('a', { href: `#/image/${encodeURIComponent(r.id)}` }, r.filename),
      ` — ${r.error ? `${r.error.stage}: ${r.error.code} — ${r.error.message}` : 'failed'}`)));
}

export async function renderOperator(root) {
  const msg = h('p.note', { role: 'status' });
  const queues = h('section', { 'aria-label': 'Queues' });
  const parked = h('section', { 'aria-label': 'Parked jobs' });
  const failed = h('section', { 'aria-label': 'Failed images' });
  const say = (t) => { msg.textContent = t; };
  const reload = () => load();
  clear(root).append(
    h('h2', null, 'Operator'),
    h('button', { type: 'button', onclick: reload }, 'Refresh'),
    msg, queues, parked, failed);

  async function load() {
    try {
      const stats = await getJson('/admin/queues', { auth: 'admin' });
      clear(queues).append(queuesTable(stats));
    } catch (e) {
      clear(queues).append(h('h3', null, 'Queues'), h('p.error', null, e.words || String(e)));
    }
    try {
      const res = await getJson('/admin/parked', { auth: 'admin' });
      clear(parked).append(h('h3', null, 'Parked jobs'), parkedList(res.jobs || [], reload, say));
    } catch (e) {
      clear(parked).append(h('h3', null, 'Parked jobs'), h('p.error', null, e.words || String(e)));
    }
    try {
      const res = await getJson('/images?status=failed&limit=50');
      clear(failed).append(h('h3', null, 'Failed images'), failedList(res.items || []));
    } catch (e) {
      clear(failed).append(h('h3', null, 'Failed images'), h('p.error', null, e.words || String(e)));
    }
    root.dataset.loaded = String(Date.now());
  }
  await load();
}
