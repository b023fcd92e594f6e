// Where the tokens are entered; api.js says where they are kept and why.
import { h, clear } from './dom.js';
import { getToken, setToken } from './api.js';

export function renderSettings(root) {
  const field = (kind, label, help) => {
    const id = `token-${kind}`;
    const input = h('input', { id, type: 'password', autocomplete: 'off', value: getToken(kind), 'aria-describedby': `${id}-help` });
    return { input, el: h('div.field', null, h('label', { for: id }, label), input, h('p.hint', { id: `${id}-help` }, help)) };
  };
  const up = field('upload', 'Upload token', 'PHOTO_PIPELINE_API_TOKEN, if the server sets one.');
  const admin = field('admin', 'Admin token', 'PHOTO_PIPELINE_ADMIN_TOKEN, for the operator view.');
  const done = h('p.note', { role: 'status' });
  clear(root).append(
    h('h2', null, 'Tokens'),
    h('form.tokens', {
      onsubmit: (e) => {
        e.preventDefault();
        setToken('upload', up.input.value.trim());
        setToken('admin', admin.input.value.trim());
        done.textContent = 'Saved for this browser tab.';
      },
    }, up.el, admin.el, h('button', { type: 'submit' }, 'Save')),
    done,
    h('p.hint', null, 'Tokens are kept in this tab\'s sessionStorage: they survive a reload, not closing the tab, and are sent only as an Authorization header to this server.'));
}
