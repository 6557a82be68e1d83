/**
 * The YouTube Data API v3 client: video ids from URLs, comment pages (with replies) through an injected fetch,
 * comment records, and every failure mapped to a UserFacingError a person can act on. Pure: no DOM, no chrome.*.
 */
import { UserFacingError } from './errors.js';

export const YOUTUBE_API = 'https://www.googleapis.com/youtube/v3';
export const PAGE_SIZE = 100;

const VIDEO_ID = /^[A-Za-z0-9_-]{11}$/;
const YOUTUBE_HOSTS = new Set(['youtube.com', 'www.youtube.com', 'm.youtube.com', 'music.youtube.com']);

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
