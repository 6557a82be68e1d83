/**
 * Options page: YouTube API key, sentiment API URL, number of comments, order, replies; shows the anonymous id
 * sent with corrections (chrome.storage.local "clientId", made by the popup at the first correction).
 * Settings are validated by lib/settings.js and stored in chrome.storage.local under "settings".
 * A non-loopback API origin is requested as an optional host permission when saving (a user gesture).
 */
import {
  CLIENT_ID_KEY, DEFAULT_SETTINGS, MAX_COMMENTS_LIMIT, isClientId, originPermissionFor, validateSettings, withDefaults,
} from './lib/settings.js';

const form = document.getElementById('options-form');
const statusEl = document.getElementById('save-status');
const CHECK_TIMEOUT_MS = 5000;

function setStatus(text, kind = '') {
  statusEl.textContent = text;
  statusEl.className = kind;
}

function readForm() {
  return {
    apiKey: form.apiKey.value,
    apiBase: form.apiBase.value,
    maxComments: form.maxComments.value === '' ? NaN : Number(form.maxComments.value),
    order: form.order.value,
    includeReplies: form.includeReplies.checked,
  };
}

function showFieldErrors(errors) {
  for (const el of form.querySelectorAll('.field-error')) {
    const message = errors[el.dataset.for] ?? '';
    el.textContent = message;
    el.hidden = !message;
    form[el.dataset.for].setAttribute('aria-invalid', String(Boolean(message)));
  }
}

async function load() {
  form.maxComments.max = String(MAX_COMMENTS_LIMIT);
  form.apiBase.placeholder = DEFAULT_SETTINGS.apiBase;
  const { settings: stored, [CLIENT_ID_KEY]: clientId } = await chrome.storage.local.get(['settings', CLIENT_ID_KEY]);
  if (isClientId(clientId)) document.getElementById('clientId').textContent = clientId;
  const settings = withDefaults(stored);
  form.apiKey.value = settings.apiKey;
  form.apiBase.value = settings.apiBase;
  form.maxComments.value = String(settings.maxComments);
  form.order.value = settings.order;
  form.includeReplies.checked = settings.includeReplies;
  document.body.dataset.ready = 'true';
}

async function save(event) {
  event.preventDefault();
  const result = validateSettings(readForm());
  showFieldErrors(result.ok ? {} : result.errors);
  if (!result.ok) {
    setStatus('Not saved: fix the fields marked in red.', 'error');
    return;
  }
  const { settings } = result;
  const origin = originPermissionFor(settings.apiBase);
  let note = '';
  if (origin) {
    // Must be the first await of the click handler: Chrome only shows the prompt during a user gesture.
    let granted = false;
    try {
      granted = await chrome.permissions.request({ origins: [origin] });
    } catch (err) {
      note = ` (${err.message})`;
    }
    if (!granted) {
      note = ` Access to ${origin} was not granted${note}: the API must then allow this extension's origin `
        + `(chrome-extension://${chrome.runtime.id}) in its CORS_ORIGINS.`;
    }
  }
  await chrome.storage.local.set({ settings });
  form.apiBase.value = settings.apiBase;
  setStatus(`Saved.${note}`, note ? 'error' : 'ok');
}

async function checkApi() {
  const result = validateSettings({ ...readForm(), apiKey: 'unused-for-this-check' });
  if (!result.ok && result.errors.apiBase) {
    showFieldErrors({ apiBase: result.errors.apiBase });
    return;
  }
  const apiBase = result.ok ? result.settings.apiBase : form.apiBase.value.trim().replace(/\/+$/, '');
  setStatus(`Checking ${apiBase}…`);
  try {
    const response = await fetch(`${apiBase}/model`, { signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      setStatus(`${apiBase} answered HTTP ${response.status}${body?.detail ? `: ${body.detail}` : ''}.`, 'error');
      return;
    }
    setStatus(`Connected: model ${body?.name ?? '?'} version ${body?.version ?? '?'} (${body?.alias ?? 'no alias'}).`, 'ok');
  } catch {
    setStatus(`Cannot reach ${apiBase}. Is the API running (make serve), and is the URL right?`, 'error');
  }
}

form.addEventListener('submit', save);
document.getElementById('check-api').addEventListener('click', checkApi);
load().catch((err) => setStatus(`Could not load settings: ${err.message}`, 'error'));
