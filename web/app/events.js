// GET /events (Server-Sent Events): one EventSource for the whole page.
// The browser reconnects by itself after a drop and sends Last-Event-ID, so
// the server replays what was missed. If the stream fails for good (an HTTP
// error), we open a new one after a pause and pass the last id as
// ?last_event_id= because a new EventSource cannot set the header.

const listeners = new Set();
const resetListeners = new Set();
let source = null;
let lastId = '';
let retryTimer = null;

function setState(text, cls) {
  const el = document.getElementById('live-state');
  if (!el) return;
  el.textContent = text;
  el.dataset.state = cls;
}

export function onImageEvent(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

// Called when the server says events were lost (too far behind): reload.
export function onReset(fn) {
  resetListeners.add(fn);
  return () => resetListeners.delete(fn);
}

export function connectEvents() {
  if (source) return;
  const url = lastId ? `/events?last_event_id=${encodeURIComponent(lastId)}` : '/events';
  source = new EventSource(url);
  source.onopen = () => setState('Live', 'live');
  source.addEventListener('image', (e) => {
    if (e.lastEventId) lastId = e.lastEventId;
    let data;
    try {
      data = JSON.parse(e.data);
    } catch {
      return;
    }
    for (const fn of listeners) fn(data);
  });
  source.addEventListener('reset', () => {
    for (const fn of resetListeners) fn();
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CONNECTING) {
      setState('Reconnecting…', 'connecting');
      return;
    }
    // Closed for good: start again ourselves.
    setState('Offline, retrying…', 'offline');
    source.close();
    source = null;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connectEvents, 3000);
  };
}
