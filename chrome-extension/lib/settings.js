/**
 * The extension's settings: defaults, validation of what the options page submits, stored values merged over
 * the defaults, and the host permission a sentiment API URL needs. Pure: no DOM, no chrome.*.
 */

export const DEFAULT_SETTINGS = Object.freeze({
  apiKey: '',
  apiBase: 'http://127.0.0.1:5000',
  maxComments: 500,
  order: 'relevance',
  includeReplies: false,
});
// The sentiment API accepts at most 1000 comments per request by default, and the popup sends them in one
// /analyze call plus one call per chart, so that is also the most a user can ask for.
export const MAX_COMMENTS_LIMIT = 1000;

/**
 * Validate and normalise settings typed into the options page.
 * @returns {{ok: true, settings: object} | {ok: false, errors: Object<string, string>}}
 */
export function validateSettings(raw) {
  const errors = {};
  const apiKey = String(raw.apiKey ?? '').trim();
  if (!apiKey) errors.apiKey = 'Enter your YouTube Data API v3 key.'; // pragma: allowlist secret
  else if (/\s/.test(apiKey)) errors.apiKey = 'The API key cannot contain spaces.'; // pragma: allowlist secret

  let apiBase = String(raw.apiBase ?? '').trim() || DEFAULT_SETTINGS.apiBase;
  try {
    const url = new URL(apiBase);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      errors.apiBase = 'The API URL must start with http:// or https://.';
    } else if (url.search || url.hash || url.username || url.password) {
      errors.apiBase = 'The API URL must not contain a query, fragment or credentials.';
    } else {
      apiBase = (url.origin + url.pathname).replace(/\/+$/, '');
    }
  } catch {
    errors.apiBase = `"${apiBase}" is not a valid URL (example: ${DEFAULT_SETTINGS.apiBase}).`;
  }

  const maxComments = Number(raw.maxComments);
  if (!Number.isInteger(maxComments) || maxComments < 1 || maxComments > MAX_COMMENTS_LIMIT) {
    errors.maxComments = `Number of comments must be a whole number from 1 to ${MAX_COMMENTS_LIMIT}.`;
  }
  const order = raw.order === 'time' ? 'time' : raw.order === 'relevance' ? 'relevance' : null;
  if (!order) errors.order = 'Order must be "relevance" or "time".';

  if (Object.keys(errors).length) return { ok: false, errors };
  return {
    ok: true,
    settings: { apiKey, apiBase, maxComments, order, includeReplies: Boolean(raw.includeReplies) },
  };
}

/** Stored settings merged over the defaults (missing or malformed values fall back). */
export function withDefaults(stored) {
  const s = { ...DEFAULT_SETTINGS };
  if (stored && typeof stored === 'object') {
    if (typeof stored.apiKey === 'string') s.apiKey = stored.apiKey.trim();
    if (typeof stored.apiBase === 'string' && stored.apiBase.trim()) s.apiBase = stored.apiBase.trim();
    if (Number.isInteger(stored.maxComments) && stored.maxComments >= 1) {
      s.maxComments = Math.min(stored.maxComments, MAX_COMMENTS_LIMIT);
    }
    if (stored.order === 'time' || stored.order === 'relevance') s.order = stored.order;
    if (typeof stored.includeReplies === 'boolean') s.includeReplies = stored.includeReplies;
  }
  return s;
}

/**
 * Host-permission match pattern for an API base URL, or null when the manifest already grants it
 * (loopback on any port); a deployed API's origin is requested at run time (optional_host_permissions).
 */
export function originPermissionFor(apiBase) {
  const url = new URL(apiBase);
  if (url.hostname === '127.0.0.1' || url.hostname === 'localhost') return null;
  return `${url.protocol}//${url.hostname}/*`;
}

/**
 * The anonymous id sent with each correction (POST /feedback `client_id`): a random UUID made once and kept in
 * chrome.storage.local under "clientId". It says nothing about the person; it only lets the API count one
 * label per comment and person, and change it when the person changes their mind.
 */
export const CLIENT_ID_KEY = 'clientId';
const CLIENT_ID = /^[A-Za-z0-9_-]{8,64}$/;

export function isClientId(value) {
  return typeof value === 'string' && CLIENT_ID.test(value);
}

/**
 * The stored client id when valid, else a new one from `randomUUID` (crypto.randomUUID in the browser).
 * @returns {{clientId: string, created: boolean}} created: the caller must store it
 */
export function clientIdFrom(stored, randomUUID) {
  if (isClientId(stored)) return { clientId: stored, created: false };
  const clientId = randomUUID();
  if (!isClientId(clientId)) throw new Error(`randomUUID gave an unusable id: ${clientId}`);
  return { clientId, created: true };
}
