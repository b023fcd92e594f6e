// The upload view: drop zone and file picker, a card per file with its
// upload progress, then its stages live from GET /events.
import { h, clear } from './dom.js';
import { upload, getJson } from './api.js';
import { Card } from './cards.js';
import { onImageEvent, onReset } from './events.js';

const PARALLEL = 3;
const cards = new Map();        // image id -> Card (accepted uploads)
const early = new Map();        // image id -> event data that arrived before its 202
const list = h('ol.cards', { 'aria-label': 'Uploads' });
const queue = [];
let running = 0;

onImageEvent((data) => {
  const card = cards.get(data.id);
  if (!card) {
    if (early.size < 1000) early.set(data.id, data);
    return;
  }
  card.apply(data);
  // The record carries the rendition URLs as the server hands them out
  // (signed when PHOTO_PIPELINE_SIGNING_KEY is set).
  if (data.status === 'completed' || data.status === 'failed') refresh(data.id, card);
});

// Events were lost: ask for the current state of every card still moving.
onReset(() => {
  for (const [id, card] of cards) {
    const st = card.el.dataset.status;
    if (st !== 'completed' && st !== 'failed') refresh(id, card);
  }
});

async function refresh(id, card) {
  try {
    card.apply(await getJson(`/status/${encodeURIComponent(id)}`), true);
  } catch {
    // The next event will bring it.
  }
}

function pump() {
  while (running < PARALLEL && queue.length) {
    const { file, card } = queue.shift();
    running++;
    upload(file, (f) => card.uploading(f))
      .then((res) => {
        card.accepted(res.id);
        cards.set(res.id, card);
        if (early.has(res.id)) {
          card.apply(early.get(res.id));
          early.delete(res.id);
        }
        refresh(res.id, card);
      })
      .catch((err) => card.rejected(err))
      .finally(() => {
        running--;
        pump();
      });
  }
}

export function addFiles(files) {
  for (const file of files) {
    const card = new Card(file.name);
    list.prepend(card.el);
    queue.push({ file, card });
  }
  pump();
}

export function renderUpload(root) {
  const input = h('input.visually-hidden', {
    id: 'file-input',
    type: 'file', multiple: true, accept: 'image/*',
    onchange: () => {
      addFiles([...input.files]);
      input.value = '';
    },
  });
  const zone = h('label.dropzone', { for: 'file-input' },
    h('span.dz-title', null, 'Drop photos here'),
    h('span.dz-sub', null, 'or press Enter / click to choose files (JPEG, PNG, WebP, GIF, TIFF, HEIF, AVIF)'));
  zone.tabIndex = 0;
  zone.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      input.click();
    }
  });
  for (const ev of ['dragenter', 'dragover']) {
    zone.addEventListener(ev, (e) => {
      e.preventDefault();
      zone.classList.add('over');
    });
  }
  for (const ev of ['dragleave', 'drop']) zone.addEventListener(ev, () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    addFiles([...(e.dataTransfer?.files || [])]);
  });
  clear(root).append(
    h('h2', null, 'Upload'),
    input, zone,
    h('p.hint', null, 'Each file shows its upload progress, then its stages as the workers run them.'),
    list);
}
