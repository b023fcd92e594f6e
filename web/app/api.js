// Talking to the API: JSON fetches, uploads with progress, tokens, and the
// API's errors in words.
//
// Tokens live in sessionStorage: they survive a reload of this tab (an editor
// uploading a batch should not retype them) but not the tab itself, are not
// shared with other tabs or sites, and are never sent automatically the way
// cookies are (so no cross-site request can use them). Anything running in
// the page could read them, which is why the page runs no inline or foreign
// script (Content-Security-Policy: script-src 'self') and writes all data as
// text. localStorage would keep them on disk indefinitely; memory alone
// would lose them on every reload.

const KEYS = { upload: 'pp.uploadToken', admin: 'pp.adminToken' };

export function getToken(kind) {
  try {
    return sessionStorage.getItem(KEYS[kind]) || '';
  } catch {
    return '';
  }
}

export function setToken(kind, value) {
  try {
    if (value) sessionStorage.setItem(KEYS[kind], value);
    else sessionStorage.removeItem(KEYS[kind]);
  } catch {
    // Storage disabled: tokens then last for this page view only.
    memoryTokens[kind] = value;
  }
}
const memoryTokens = {};

function authHeaders(kind) {
  const t = getToken(kind) || memoryTokens[kind];
  return t ? { Authorization: `Bearer ${t}` } : {};
}

const WORDS = {
  400: 'The request was malformed',
  401: 'Not authorised: set the right token under Tokens',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  413: 'Too large for this service',
  415: 'Not a supported image (JPEG, PNG, WebP, GIF, TIFF, HEIF or AVIF)',
  429: 'Too many requests: slow down',
  500: 'The server failed',
  503: 'The service cannot take it right now',
};

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || WORDS[status] || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
    this.retryAfter = retryAfter || '';
  }
  // One line for people: the status in words, then the API's own message.
  get words() {
    const base = WORDS[this.status] || (this.status ? `HTTP ${this.status}` : 'Network error');
    const parts = [this.status ? `${this.status}: ${base}` : base];
    if (this.message && this.message !== base) parts.push(this.message);
    if (this.retryAfter) parts.push(`retry in ${this.retryAfter} s`);
    return parts.join(' — ');
  }
}

function errorFrom(status, text, retryAfter) {
  let code = '';
  let message = '';
  try {
    const j = JSON.parse(text);
    code = j?.error?.code || '';
    message = j?.error?.message || '';
  } catch {
    // Not JSON (a proxy's page): keep the status alone.
  }
  return new ApiError(status, code, message, retryAfter);
}

export async function getJson(path, { auth } = {}) {
  let res;
  try {
    res = await fetch(path, { headers: { Accept: 'application/json', ...(auth ? authHeaders(auth) : {}) } });
  } catch (e) {
    throw new ApiError(0, 'network', String(e.message || e));
  }
  const text = await res.text();
  if (!res.ok) throw errorFrom(res.status, text, res.headers.get('Retry-After'));
  return JSON.parse(text);
}

export async function postJson(path, { auth } = {}) {
  let res;
  try {
    res = await fetch(path, { method: 'POST', headers: { Accept: 'application/json', ...(auth ? authHeaders(auth) : {}) } });
  } catch (e) {
    throw new ApiError(0, 'network', String(e.message || e));
  }
  const text = await res.text();
  if (!res.ok) throw errorFrom(res.status, text, res.headers.get('Retry-After'));
  return text ? JSON.parse(text) : {};
}

// POST /upload/ with XMLHttpRequest, the only browser API that reports
// upload progress. onProgress(fraction 0..1). Resolves to the 202 body.
export function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/upload/');
    for (const [k, v] of Object.entries(authHeaders('upload'))) xhr.setRequestHeader(k, v);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        try {
          resolve(JSON.parse(xhr.responseText));
        } catch {
          reject(new ApiError(xhr.status, 'bad_response', 'unreadable answer'));
        }
      } else {
        reject(errorFrom(xhr.status, xhr.responseText, xhr.getResponseHeader('Retry-After')));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'the connection failed'));
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
}
