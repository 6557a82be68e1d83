/**
 * Pure logic of the extension: no DOM, no chrome.* calls, no globals beyond `URL`.
 *
 * Everything here is unit-tested with node's test runner (tests/extension/logic.test.mjs):
 * settings validation, video-id parsing, YouTube Data API pagination (with an injected fetch),
 * mapping of every failure to a message a person can act on, and the metrics shown in the popup.
 * The popup (popup.js) only wires these functions to chrome.storage, fetch and the DOM.
 */

export const YOUTUBE_API = 'https://www.googleapis.com/youtube/v3';
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
export const PAGE_SIZE = 100;
export const TOP_N = 25;

const VIDEO_ID = /^[A-Za-z0-9_-]{11}$/;
const YOUTUBE_HOSTS = new Set(['youtube.com', 'www.youtube.com', 'm.youtube.com', 'music.youtube.com']);

/** Error carrying a stable `code` (for tests and styling) and a message meant for the user. */
export class UserFacingError extends Error {
  constructor(code, message, { action = null, detail = '' } = {}) {
    super(message);
    this.name = 'UserFacingError';
    this.code = code;
    // 'options' -> the popup shows a link to the options page.
    this.action = action;
    this.detail = detail;
  }
}

export function isVideoId(value) {
  return typeof value === 'string' && VIDEO_ID.test(value);
}

/**
 * Video id from a YouTube URL (watch, youtu.be, shorts, live, embed; www/m/music hosts), or null.
 * @param {string} url
 * @returns {string|null}
 */
export function parseVideoId(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return null;
  const host = parsed.hostname.toLowerCase();
  const segments = parsed.pathname.split('/').filter(Boolean);
  let candidate = null;
  if (host === 'youtu.be' || host === 'www.youtu.be') {
    candidate = segments[0] ?? null;
  } else if (YOUTUBE_HOSTS.has(host)) {
    if (segments[0] === 'watch' && segments.length === 1) {
      candidate = parsed.searchParams.get('v');
    } else if (['shorts', 'live', 'embed', 'v'].includes(segments[0])) {
      candidate = segments[1] ?? null;
    }
  }
  return isVideoId(candidate) ? candidate : null;
}

/**
 * Validate and normalise settings typed into the options page.
 * @returns {{ok: true, settings: object} | {ok: false, errors: Object<string, string>}}
 */
export function validateSettings(raw) {
  const errors = {};
  const apiKey = String(raw.apiKey ?? '').trim();
  if (!apiKey) errors.apiKey = 'Enter your YouTube Data API v3 key.';
  else if (/\s/.test(apiKey)) errors.apiKey = 'The API key cannot contain spaces.';

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

const NAMED_ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/**
 * Decode the HTML entities the YouTube API leaves in `textDisplay` (even with textFormat=plainText).
 * The result is plain text for `textContent`, never parsed as HTML.
 */
export function decodeEntities(text) {
  return String(text).replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (match, body) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : match;
    }
    return NAMED_ENTITIES[body.toLowerCase()] ?? match;
  });
}

/** One API `youtube#comment` resource -> the flat record the rest of the extension uses. */
export function toComment(resource, { replyCount = 0, isReply = false } = {}) {
  const s = resource.snippet ?? {};
  const text = typeof s.textOriginal === 'string' && s.textOriginal !== ''
    ? s.textOriginal
    : decodeEntities(s.textDisplay ?? '');
  return {
    id: resource.id,
    text,
    author: s.authorChannelId?.value ?? s.authorDisplayName ?? '',
    authorName: s.authorDisplayName ?? '',
    likes: Number.isFinite(s.likeCount) ? s.likeCount : 0,
    publishedAt: s.publishedAt ?? null,
    replyCount,
    isReply,
  };
}

export function commentThreadsUrl({ videoId, apiKey, order, pageToken, pageSize = PAGE_SIZE, includeReplies }) {
  const params = new URLSearchParams({
    part: includeReplies ? 'snippet,replies' : 'snippet',
    videoId,
    maxResults: String(pageSize),
    order,
    textFormat: 'plainText',
    key: apiKey,
  });
  if (pageToken) params.set('pageToken', pageToken);
  return `${YOUTUBE_API}/commentThreads?${params}`;
}

export function repliesUrl({ parentId, apiKey, pageToken }) {
  const params = new URLSearchParams({
    part: 'snippet',
    parentId,
    maxResults: String(PAGE_SIZE),
    textFormat: 'plainText',
    key: apiKey,
  });
  if (pageToken) params.set('pageToken', pageToken);
  return `${YOUTUBE_API}/comments?${params}`;
}

/**
 * Map a failed YouTube Data API response to a UserFacingError.
 * Real error bodies look like {"error": {"code", "message", "errors": [{"reason", "domain"}],
 * "details": [{"@type": ".../ErrorInfo", "reason": "API_KEY_INVALID"}]}}.
 */
export function youtubeError(status, body) {
  const err = body && typeof body === 'object' ? body.error ?? {} : {};
  const reasons = new Set([
    ...(Array.isArray(err.errors) ? err.errors.map((e) => e?.reason) : []),
    ...(Array.isArray(err.details) ? err.details.map((d) => d?.reason) : []),
  ].filter(Boolean));
  const apiMessage = typeof err.message === 'string' ? err.message.replace(/<[^>]*>/g, '') : '';
  if (reasons.has('keyInvalid') || reasons.has('API_KEY_INVALID')) {
    return new UserFacingError('key_invalid',
      'Your YouTube API key was rejected as invalid. Check it in the options.', { action: 'options', detail: apiMessage });
  }
  if (reasons.has('quotaExceeded') || reasons.has('dailyLimitExceeded') || reasons.has('rateLimitExceeded')) {
    return new UserFacingError('quota_exceeded',
      'The YouTube API quota for this key is used up. It resets at midnight Pacific time; try again later '
      + 'or use another key.', { action: 'options', detail: apiMessage });
  }
  if (reasons.has('commentsDisabled')) {
    return new UserFacingError('comments_disabled', 'Comments are turned off for this video, so there is nothing to analyse.',
      { detail: apiMessage });
  }
  if (reasons.has('videoNotFound') || status === 404) {
    return new UserFacingError('video_not_found',
      'YouTube could not find this video. It may be private, deleted or the link may be wrong.', { detail: apiMessage });
  }
  if (reasons.has('accessNotConfigured') || reasons.has('SERVICE_DISABLED')) {
    return new UserFacingError('api_not_enabled',
      'The YouTube Data API v3 is not enabled for this key\'s Google Cloud project. Enable it in the Cloud console.',
      { action: 'options', detail: apiMessage });
  }
  if (status === 400 || status === 401 || status === 403) {
    return new UserFacingError('key_rejected',
      `YouTube refused the request (HTTP ${status}). Check that the key is valid and allowed to call the YouTube Data API.`,
      { action: 'options', detail: apiMessage });
  }
  return new UserFacingError('youtube_error',
    `YouTube returned an error (HTTP ${status}). Try again in a moment.`, { detail: apiMessage });
}

export function networkError() {
  return new UserFacingError('network_down',
    'Cannot reach YouTube. Check your internet connection and try again.');
}

/** Map a failed sentiment-API call (thrown fetch or non-2xx) to a UserFacingError. */
export function sentimentApiError(apiBase, { status = null, body = null, thrown = false } = {}) {
  if (thrown) {
    return new UserFacingError('api_unreachable',
      `Cannot reach the sentiment API at ${apiBase}. Is it running (make serve)? If it is deployed elsewhere, set its URL `
      + 'in the options and make sure it allows this extension\'s origin (CORS_ORIGINS).', { action: 'options' });
  }
  const detail = body && typeof body === 'object'
    ? [body.error, body.detail].filter((x) => typeof x === 'string' && x).join(': ')
    : '';
  if (status === 503) {
    return new UserFacingError('api_not_ready',
      `The sentiment API at ${apiBase} is not ready (its model is loading or failed to load). Try again in a few seconds.`, { detail });
  }
  return new UserFacingError('api_error',
    `The sentiment API at ${apiBase} returned an error (HTTP ${status})${detail ? `: ${detail}` : '.'}`);
}

async function fetchYouTubeJson(fetchFn, url) {
  let response;
  try {
    response = await fetchFn(url);
  } catch {
    throw networkError();
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) throw youtubeError(response.status, body);
  if (!body || !Array.isArray(body.items)) {
    throw new UserFacingError('youtube_error', 'YouTube returned an unexpected response. Try again in a moment.');
  }
  return body;
}

/** All replies of one thread through `comments.list`, page by page, at most `max`. */
async function fetchReplies(fetchFn, parentId, apiKey, max) {
  const replies = [];
  let pageToken;
  do {
    const page = await fetchYouTubeJson(fetchFn, repliesUrl({ parentId, apiKey, pageToken }));
    replies.push(...page.items);
    pageToken = page.nextPageToken;
  } while (pageToken && replies.length < max);
  return replies;
}

/**
 * Fetch up to `limit` comments of a video, page by page (100 threads per page).
 * With `includeReplies`, replies count towards the limit: those embedded in each thread first, then the
 * rest through `comments.list` when a thread has more replies than the API embedded (it embeds at most 5).
 *
 * @param {object} opts
 * @param {(url: string) => Promise<Response>} opts.fetchFn injected fetch (global fetch in the popup)
 * @param {(n: number) => void} [opts.onProgress] called with the number of comments so far
 * @returns {Promise<Array<object>>} flat comment records (see toComment)
 */
export async function fetchAllComments({ fetchFn, videoId, apiKey, limit, order, includeReplies, onProgress = () => {} }) {
  const comments = [];
  let pageToken;
  do {
    const pageSize = includeReplies ? PAGE_SIZE : Math.min(PAGE_SIZE, Math.max(1, limit - comments.length));
    const body = await fetchYouTubeJson(fetchFn,
      commentThreadsUrl({ videoId, apiKey, order, pageToken, pageSize, includeReplies }));
    for (const thread of body.items) {
      if (comments.length >= limit) break;
      const top = thread.snippet?.topLevelComment;
      if (!top) continue;
      const replyCount = thread.snippet.totalReplyCount ?? 0;
      comments.push(toComment(top, { replyCount }));
      if (!includeReplies || replyCount === 0) continue;
      const room = limit - comments.length;
      let replies = thread.replies?.comments ?? [];
      if (replies.length < replyCount) {
        try {
          replies = await fetchReplies(fetchFn, top.id, apiKey, room);
        } catch (err) {
          // The thread vanished between two calls: keep the replies the API embedded rather than fail.
          if (err.code !== 'video_not_found') throw err;
        }
      }
      for (const reply of replies.slice(0, room)) comments.push(toComment(reply, { isReply: true }));
    }
    onProgress(comments.length);
    pageToken = body.nextPageToken;
  } while (pageToken && comments.length < limit);
  return comments;
}

/** Body of POST /analyze for one batch. */
export function analyzePayload(comments) {
  return {
    comments: comments.map((c) => {
      const item = { text: c.text, likes: c.likes, author: c.author };
      if (c.publishedAt) item.timestamp = c.publishedAt;
      return item;
    }),
  };
}

/** Map a mean sentiment in [-1, 1] to the 0–10 scale the API uses. */
export function toTenScale(mean) {
  return (mean + 1) * 5;
}

export function wordCount(text) {
  const trimmed = String(text).trim();
  return trimmed ? trimmed.split(/\s+/u).length : 0;
}

/**
 * Metrics shown in the popup, from the fetched comments and the API's predictions (same order).
 * like_weighted: each comment weighs 1 + its likes, so unliked comments still count.
 */
export function computeMetrics(comments, predictions) {
  if (comments.length !== predictions.length) {
    throw new Error(`got ${predictions.length} predictions for ${comments.length} comments`);
  }
  const counts = { '-1': 0, 0: 0, 1: 0 };
  const authors = new Set();
  let words = 0;
  let sum = 0;
  let weighted = 0;
  let weights = 0;
  comments.forEach((c, i) => {
    const s = predictions[i].sentiment;
    counts[String(s)] += 1;
    if (c.author) authors.add(c.author);
    words += wordCount(c.text);
    sum += s;
    const w = 1 + Math.max(0, c.likes);
    weighted += w * s;
    weights += w;
  });
  const n = comments.length;
  const rows = comments.map((c, i) => ({ ...c, prediction: predictions[i], index: i }));
  // Stable sort: ties keep the API's order (relevance or time).
  rows.sort((a, b) => b.likes - a.likes || a.index - b.index);
  return {
    total: n,
    uniqueCommenters: authors.size,
    avgWords: n ? words / n : 0,
    avgScore: n ? toTenScale(sum / n) : null,
    likeWeightedScore: n ? toTenScale(weighted / weights) : null,
    counts,
    top: rows.slice(0, TOP_N),
  };
}

/**
 * Predictions from a `/analyze` response, checked against the number of comments sent.
 * @throws {UserFacingError} when the response does not follow the API contract
 */
export function predictionsFrom(response, expected, apiBase) {
  const predictions = response?.predictions;
  const valid = Array.isArray(predictions) && predictions.length === expected
    && predictions.every((p) => p && [-1, 0, 1].includes(p.sentiment));
  if (!valid) {
    throw new UserFacingError('api_error',
      `The sentiment API at ${apiBase} answered /analyze with an unexpected response; is the URL right and the API `
      + 'up to date?');
  }
  return predictions;
}

/** Body of POST /generate_chart (pie chart). */
export function chartPayload(counts) {
  return { sentiment_counts: { 1: counts[1], 0: counts[0], '-1': counts['-1'] } };
}

/** Body of POST /generate_trend_graph; comments without a timestamp are left out. */
export function trendPayload(comments, predictions) {
  return {
    sentiment_data: comments
      .map((c, i) => ({ timestamp: c.publishedAt, sentiment: predictions[i].sentiment }))
      .filter((d) => d.timestamp),
  };
}

/** Body of POST /generate_wordcloud. */
export function wordcloudPayload(comments) {
  return { comments: comments.map((c) => c.text) };
}

export function formatScore(value) {
  return value === null || value === undefined ? '–' : value.toFixed(1);
}

/** Label of a sentiment value (-1/0/1), as the API names it. */
export function sentimentLabel(value) {
  return { '-1': 'negative', 0: 'neutral', 1: 'positive' }[String(value)] ?? 'unknown';
}
