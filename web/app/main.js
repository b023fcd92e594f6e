// Entry point: a hash router over the four views and the live event stream.
import { renderUpload } from './upload.js';
import { renderGallery } from './gallery.js';
import { renderDetail } from './detail.js';
import { renderOperator } from './operator.js';
import { renderSettings } from './settings.js';
import { connectEvents } from './events.js';

const main = document.getElementById('main');

function route() {
  const hash = location.hash || '#/';
  const [, view, arg] = hash.match(/^#\/?([^/]*)\/?(.*)$/) || [];
  const name = view || 'upload';
  for (const a of document.querySelectorAll('.nav a')) {
    if (a.dataset.view === (name === 'image' ? 'gallery' : name)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  main.dataset.view = name;
  delete main.dataset.loaded;
  if (name === 'gallery') renderGallery(main);
  else if (name === 'image') renderDetail(main, decodeURIComponent(arg));
  else if (name === 'operator') renderOperator(main);
  else if (name === 'settings') renderSettings(main);
  else renderUpload(main);
}

window.addEventListener('hashchange', () => {
  route();
  main.focus({ preventScroll: true });
});
connectEvents();
route();
