// Unit tests of chrome-extension/lib/logic.js (node's built-in test runner: node --test tests/extension/).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

import {
  DEFAULT_SETTINGS, MAX_COMMENTS_LIMIT, TOP_N, UserFacingError, analyzePayload, chartPayload, commentThreadsUrl,
  computeMetrics, decodeEntities, fetchAllComments, originPermissionFor, parseVideoId, predictionsFrom,
  sentimentApiError, toComment, toTenScale, trendPayload, validateSettings, withDefaults, wordCount,
  wordcloudPayload, youtubeError,
} from '../../chrome-extension/lib/logic.js';

const FIXTURES = new URL('./fixtures/', import.meta.url);
const fixture = (name) => JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8'));

describe('parseVideoId', () => {
  const ID = 'dQw4w9WgXcQ';
  for (const url of [
    `https://www.youtube.com/watch?v=${ID}`,
    `https://www.youtube.com/watch?v=${ID}&t=42s&list=PL123`,
    `https://www.youtube.com/watch?feature=share&v=${ID}`,
    `https://youtube.com/watch?v=${ID}`,
    `http://www.youtube.com/watch?v=${ID}#comments`,
    `https://m.youtube.com/watch?v=${ID}&pp=ygU`,
    `https://music.youtube.com/watch?v=${ID}`,
    `https://youtu.be/${ID}`,
    `https://youtu.be/${ID}?si=AbCdEf&t=10`,
    `https://www.youtube.com/shorts/${ID}`,
    `https://youtube.com/shorts/${ID}?feature=share`,
    `https://m.youtube.com/shorts/${ID}`,
    `https://www.youtube.com/live/${ID}?si=x`,
    `https://www.youtube.com/embed/${ID}`,
    `https://WWW.YOUTUBE.COM/watch?v=${ID}`,
  ]) {
    it(`finds the id in ${url}`, () => assert.equal(parseVideoId(url), ID));
  }
  for (const url of [
    'https://www.youtube.com/',
    'https://www.youtube.com/feed/subscriptions',
    'https://www.youtube.com/@somechannel',
    'https://www.youtube.com/watch?list=PL123',
    'https://www.youtube.com/watch?v=tooShort',
    'https://www.youtube.com/watch?v=dQw4w9WgXcQQ',
    'https://www.youtube.com/watch?v=dQw4w9WgX%3CQ',
    `https://www.youtube.com/results?search_query=${ID}`,
    `https://example.com/watch?v=${ID}`,
    `https://youtube.com.evil.example/watch?v=${ID}`,
    `https://notyoutu.be/${ID}`,
    `ftp://youtu.be/${ID}`,
    'chrome://extensions/',
    'chrome-extension://hjpcimaolalbjpklelngebhdenmmbfmd/popup.html',
    'not a url',
    '',
  ]) {
    it(`rejects ${JSON.stringify(url)}`, () => assert.equal(parseVideoId(url), null));
  }
});

describe('settings', () => {
  const good = { apiKey: ' AIzaFakeKeyForTests ', apiBase: 'https://api.example.org/sentiment/', maxComments: 300,
    order: 'time', includeReplies: true };

  it('normalises valid settings', () => {
    assert.deepEqual(validateSettings(good), { ok: true, settings: {
      apiKey: 'AIzaFakeKeyForTests', apiBase: 'https://api.example.org/sentiment', maxComments: 300, order: 'time',
      includeReplies: true } });
  });

  it('defaults an empty API URL to the local API', () => {
    assert.equal(validateSettings({ ...good, apiBase: '  ' }).settings.apiBase, DEFAULT_SETTINGS.apiBase);
  });

  for (const [field, value, pattern] of [
    ['apiKey', '', /Enter your YouTube/],
    ['apiKey', 'two words', /spaces/],
    ['apiBase', 'localhost:5000', /http/],
    ['apiBase', 'not a url', /not a valid URL/],
    ['apiBase', 'ftp://example.org', /http:\/\/ or https:\/\//],
    ['apiBase', 'http://example.org/?x=1', /query/],
    ['maxComments', 0, /1 to 1000/],
    ['maxComments', MAX_COMMENTS_LIMIT + 1, /1 to 1000/],
    ['maxComments', 2.5, /whole number/],
    ['maxComments', NaN, /whole number/],
    ['order', 'random', /relevance/],
  ]) {
    it(`rejects ${field}=${JSON.stringify(value)} with a message`, () => {
      const result = validateSettings({ ...good, [field]: value });
      assert.equal(result.ok, false);
      assert.match(result.errors[field], pattern);
      assert.deepEqual(Object.keys(result.errors), [field]);
    });
  }

  it('fills missing or malformed stored values with defaults', () => {
    assert.deepEqual(withDefaults(undefined), { ...DEFAULT_SETTINGS });
    assert.deepEqual(withDefaults({ apiKey: 'k', maxComments: 'x', order: 'bogus', includeReplies: 'yes' }),
      { ...DEFAULT_SETTINGS, apiKey: 'k' });
    assert.equal(withDefaults({ maxComments: 99999 }).maxComments, MAX_COMMENTS_LIMIT);
  });

  it('asks for host permission only for non-loopback APIs', () => {
    assert.equal(originPermissionFor('http://127.0.0.1:5000'), null);
    assert.equal(originPermissionFor('http://localhost:8080/api'), null);
    assert.equal(originPermissionFor('https://sentiment.example.org:8443/v1'), 'https://sentiment.example.org/*');
    assert.equal(originPermissionFor('http://10.1.2.3'), 'http://10.1.2.3/*');
  });
});

describe('text of comments', () => {
  it('decodes the entities YouTube leaves in textDisplay', () => {
    assert.equal(decodeEntities('I can&#39;t &amp; won&#x27;t &quot;stop&quot; &lt;3 &gt;_&lt; &nbsp;'),
      'I can\'t & won\'t "stop" <3 >_< \u00a0');
    assert.equal(decodeEntities('&#128525; &#x1F525;'), '😍 🔥');
    assert.equal(decodeEntities('&amp;lt;b&amp;gt;'), '&lt;b&gt;', 'decodes exactly once');
    assert.equal(decodeEntities('AT&T &unknown; &#0; & ;'), 'AT&T &unknown; &#0; & ;');
  });

  it('prefers textOriginal and falls back to decoded textDisplay', () => {
    const base = { id: 'c1', snippet: { authorChannelId: { value: 'UC1' }, authorDisplayName: '@a', likeCount: 3,
      publishedAt: '2024-05-01T10:00:00Z' } };
    assert.equal(toComment({ ...base, snippet: { ...base.snippet, textOriginal: 'raw <b>', textDisplay: 'x' } }).text,
      'raw <b>');
    const c = toComment({ ...base, snippet: { ...base.snippet, textDisplay: 'Tom &amp; Jerry' } }, { replyCount: 2 });
    assert.deepEqual(c, { id: 'c1', text: 'Tom & Jerry', author: 'UC1', authorName: '@a', likes: 3,
      publishedAt: '2024-05-01T10:00:00Z', replyCount: 2, isReply: false });
    assert.equal(toComment({ id: 'c2', snippet: { textDisplay: 'hi', authorDisplayName: '@gone' } }).author, '@gone');
    assert.equal(toComment({ id: 'c3', snippet: { textDisplay: 'hi' } }).likes, 0);
  });

  it('counts words on any whitespace', () => {
    assert.equal(wordCount('  one two\tthree\nfour  '), 4);
    assert.equal(wordCount(''), 0);
    assert.equal(wordCount('🔥🔥 fire'), 2);
  });
});

/** A fetch that serves the fixture pages by pageToken, recording every URL. */
function fixtureFetch(pages, { replies = {}, fail = null } = {}) {
  const calls = [];
  const fn = async (url) => {
    calls.push(url);
    const u = new URL(url);
    if (fail) return fail(u);
    if (u.pathname.endsWith('/comments')) {
      return Response.json(replies[u.searchParams.get('parentId')]);
    }
    const token = u.searchParams.get('pageToken');
    const page = structuredClone(token ? pages.find((p) => p.token === token).body : pages[0].body);
    if (!u.searchParams.get('part').includes('replies')) page.items.forEach((t) => delete t.replies);
    page.items = page.items.slice(0, Number(u.searchParams.get('maxResults')));
    return Response.json(page);
  };
  return { fn, calls };
}

function loadPages() {
  const index = fixture('index.json');
  return {
    index,
    pages: index.pages.map((p) => ({ token: p.token, body: fixture(p.file) })),
    replies: Object.fromEntries(Object.entries(index.replies).map(([id, file]) => [id, fixture(file)])),
  };
}

describe('fetchAllComments', () => {
  it('pages through commentThreads up to the limit', async () => {
    const { index, pages, replies } = loadPages();
    const { fn, calls } = fixtureFetch(pages, { replies });
    const progress = [];
    const comments = await fetchAllComments({ fetchFn: fn, videoId: index.videoId, apiKey: 'k', limit: 500,
      order: 'relevance', includeReplies: false, onProgress: (n) => progress.push(n) });
    assert.equal(comments.length, 500);
    assert.equal(calls.length, 5);
    assert.deepEqual(progress, [100, 200, 300, 400, 500]);
    const first = new URL(calls[0]);
    assert.equal(first.origin + first.pathname, 'https://www.googleapis.com/youtube/v3/commentThreads');
    assert.deepEqual(Object.fromEntries(first.searchParams), { part: 'snippet', videoId: index.videoId,
      maxResults: '100', order: 'relevance', textFormat: 'plainText', key: 'k' });
    assert.equal(new URL(calls[1]).searchParams.get('pageToken'), pages[1].token);
    assert.ok(comments.every((c) => !c.isReply));
    assert.equal(new Set(comments.map((c) => c.id)).size, 500);
    assert.equal(comments[0].id, pages[0].body.items[0].snippet.topLevelComment.id);
  });

  it('asks only for what is missing on the last page and stops at the end', async () => {
    const { index, pages } = loadPages();
    const { fn, calls } = fixtureFetch(pages);
    const some = await fetchAllComments({ fetchFn: fn, videoId: index.videoId, apiKey: 'k', limit: 130,
      order: 'time', includeReplies: false });
    assert.equal(some.length, 130);
    assert.equal(new URL(calls[1]).searchParams.get('maxResults'), '30');
    assert.equal(new URL(calls[0]).searchParams.get('order'), 'time');

    const all = await fetchAllComments({ fetchFn: fixtureFetch(pages).fn, videoId: index.videoId, apiKey: 'k',
      limit: 1000, order: 'time', includeReplies: false });
    assert.equal(all.length, index.threads, 'every thread of the video, no more requests after the last page');
  });

  it('includes embedded replies and fetches the rest of long reply chains', async () => {
    const { index, pages, replies } = loadPages();
    const { fn, calls } = fixtureFetch(pages, { replies });
    const comments = await fetchAllComments({ fetchFn: fn, videoId: index.videoId, apiKey: 'k', limit: 1000,
      order: 'relevance', includeReplies: true });
    assert.equal(comments.length, index.threads + index.replyTotal);
    assert.equal(new URL(calls[0]).searchParams.get('part'), 'snippet,replies');
    const longThread = Object.keys(index.replies)[0];
    assert.ok(calls.some((u) => new URL(u).searchParams.get('parentId') === longThread));
    const parentAt = comments.findIndex((c) => c.id === longThread);
    const chain = comments.slice(parentAt + 1, parentAt + 1 + comments[parentAt].replyCount);
    assert.ok(chain.length > 5 && chain.every((c) => c.isReply), 'all replies follow their thread');
  });

  it('keeps the embedded replies when a long chain has vanished', async () => {
    const { index, pages } = loadPages();
    const gone = { error: { code: 404, errors: [{ reason: 'commentNotFound' }] } };
    const { fn } = fixtureFetch(pages, { replies: {} });
    const fetchFn = async (url) => (url.includes('/comments?') ? Response.json(gone, { status: 404 }) : fn(url));
    const comments = await fetchAllComments({ fetchFn, videoId: index.videoId, apiKey: 'k', limit: 1000,
      order: 'relevance', includeReplies: true });
    const longThread = Object.keys(index.replies)[0];
    const at = comments.findIndex((c) => c.id === longThread);
    assert.ok(comments[at].replyCount > 5);
    assert.equal(comments.slice(at + 1).findIndex((c) => !c.isReply), 5, 'the 5 embedded replies, then the next thread');
  });

  it('counts replies towards the limit', async () => {
    const { index, pages, replies } = loadPages();
    const comments = await fetchAllComments({ fetchFn: fixtureFetch(pages, { replies }).fn, videoId: index.videoId,
      apiKey: 'k', limit: 120, order: 'relevance', includeReplies: true });
    assert.equal(comments.length, 120);
    assert.ok(comments.some((c) => c.isReply));
  });

  const errorCases = [
    ['error-key-invalid.json', 400, 'key_invalid', 'options'],
    ['error-quota-exceeded.json', 403, 'quota_exceeded', 'options'],
    ['error-comments-disabled.json', 403, 'comments_disabled', null],
    ['error-video-not-found.json', 404, 'video_not_found', null],
  ];
  for (const [file, status, code, action] of errorCases) {
    it(`maps ${file} to ${code}`, async () => {
      const body = fixture(file);
      const { fn } = fixtureFetch([], { fail: () => Response.json(body, { status }) });
      await assert.rejects(
        fetchAllComments({ fetchFn: fn, videoId: 'dQw4w9WgXcQ', apiKey: 'k', limit: 10, order: 'relevance' }),
        (err) => err instanceof UserFacingError && err.code === code && err.action === action && err.message.length > 20,
      );
    });
  }

  it('maps a failed fetch to network_down', async () => {
    const fetchFn = async () => {
      throw new TypeError('Failed to fetch');
    };
    await assert.rejects(fetchAllComments({ fetchFn, videoId: 'dQw4w9WgXcQ', apiKey: 'k', limit: 10 }),
      { code: 'network_down' });
  });

  it('rejects a 200 response that is not a comment list', async () => {
    const fetchFn = async () => new Response('<html>captive portal</html>', { status: 200 });
    await assert.rejects(fetchAllComments({ fetchFn, videoId: 'dQw4w9WgXcQ', apiKey: 'k', limit: 10 }),
      { code: 'youtube_error' });
  });
});

describe('error mapping', () => {
  it('recognises the newer ErrorInfo shape of an invalid key', () => {
    const err = youtubeError(400, { error: { code: 400, message: 'API key not valid. Please pass a valid API key.',
      errors: [{ reason: 'badRequest', domain: 'global' }],
      details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }] } });
    assert.equal(err.code, 'key_invalid');
    assert.equal(err.detail, 'API key not valid. Please pass a valid API key.');
  });

  it('strips the HTML YouTube puts in its messages', () => {
    assert.equal(youtubeError(403, fixture('error-quota-exceeded.json')).detail,
      'The request cannot be completed because you have exceeded your quota.');
  });

  it('covers disabled APIs, other 4xx, 5xx and bodies that are not JSON', () => {
    assert.equal(youtubeError(403, { error: { errors: [{ reason: 'accessNotConfigured' }] } }).code, 'api_not_enabled');
    assert.equal(youtubeError(403, { error: { errors: [{ reason: 'forbidden' }] } }).code, 'key_rejected');
    assert.equal(youtubeError(404, null).code, 'video_not_found');
    const server = youtubeError(503, null);
    assert.equal(server.code, 'youtube_error');
    assert.match(server.message, /HTTP 503/);
  });

  it('explains sentiment API failures', () => {
    const down = sentimentApiError('http://127.0.0.1:5000', { thrown: true });
    assert.equal(down.code, 'api_unreachable');
    assert.match(down.message, /http:\/\/127\.0\.0\.1:5000.*make serve/);
    const bad = sentimentApiError('http://x', { status: 413, body: { error: 'too many comments', detail: 'at most 1000' } });
    assert.equal(bad.code, 'api_error');
    assert.match(bad.message, /HTTP 413\): too many comments: at most 1000/);
    assert.equal(sentimentApiError('http://x', { status: 503, body: { status: 'loading' } }).code, 'api_not_ready');
    assert.match(sentimentApiError('http://x', { status: 502, body: null }).message, /HTTP 502\)\.$/);
  });

  it('checks /analyze answers against the contract', () => {
    const ok = { predictions: [{ sentiment: 1 }, { sentiment: -1 }] };
    assert.equal(predictionsFrom(ok, 2, 'http://x'), ok.predictions);
    for (const bad of [null, {}, { predictions: [{ sentiment: 1 }] }, { predictions: [{ sentiment: 2 }, {}] }]) {
      assert.throws(() => predictionsFrom(bad, 2, 'http://x'), { code: 'api_error' });
    }
  });
});

describe('metrics', () => {
  const comments = [
    { id: 'a', text: 'love it', author: 'UC1', likes: 0, publishedAt: '2024-01-05T00:00:00Z' },
    { id: 'b', text: 'hate this so much', author: 'UC2', likes: 9, publishedAt: '2024-02-05T00:00:00Z' },
    { id: 'c', text: 'ok', author: 'UC1', likes: 0, publishedAt: null },
    { id: 'd', text: 'great   video  👍', author: 'UC3', likes: 9, publishedAt: '2024-02-06T00:00:00Z' },
  ];
  const predictions = [1, -1, 0, 1].map((s) => ({ sentiment: s, label: { 1: 'positive', 0: 'neutral', '-1': 'negative' }[s] }));

  it('computes the numbers shown in the popup', () => {
    const m = computeMetrics(comments, predictions);
    assert.equal(m.total, 4);
    assert.equal(m.uniqueCommenters, 3);
    assert.equal(m.avgWords, (2 + 4 + 1 + 3) / 4);
    assert.deepEqual(m.counts, { '-1': 1, 0: 1, 1: 2 });
    assert.equal(m.avgScore, toTenScale(1 / 4));
    // weights 1, 10, 1, 10 -> (1 - 10 + 0 + 10) / 22
    assert.ok(Math.abs(m.likeWeightedScore - toTenScale(1 / 22)) < 1e-12);
    assert.deepEqual(m.top.map((c) => c.id), ['b', 'd', 'a', 'c'], 'by likes, ties keep API order');
    assert.equal(m.top[0].prediction.label, 'negative');
  });

  it('keeps only the top 25', () => {
    const many = Array.from({ length: 60 }, (_, i) => ({ id: `c${i}`, text: 'x', author: `U${i % 7}`, likes: i }));
    const m = computeMetrics(many, many.map(() => ({ sentiment: 0 })));
    assert.equal(m.top.length, TOP_N);
    assert.equal(m.top[0].id, 'c59');
    assert.equal(m.uniqueCommenters, 7);
  });

  it('maps [-1, 1] to [0, 10]', () => {
    assert.equal(toTenScale(-1), 0);
    assert.equal(toTenScale(0), 5);
    assert.equal(toTenScale(1), 10);
  });

  it('refuses predictions that do not match the comments', () => {
    assert.throws(() => computeMetrics(comments, predictions.slice(1)), /3 predictions for 4 comments/);
  });

  it('handles no comments', () => {
    const m = computeMetrics([], []);
    assert.equal(m.avgScore, null);
    assert.equal(m.avgWords, 0);
  });

  it('builds the request bodies of the API contract', () => {
    assert.deepEqual(analyzePayload(comments.slice(2, 4)), { comments: [
      { text: 'ok', likes: 0, author: 'UC1' },
      { text: 'great   video  👍', likes: 9, author: 'UC3', timestamp: '2024-02-06T00:00:00Z' }] });
    assert.deepEqual(chartPayload({ '-1': 1, 0: 1, 1: 2 }), { sentiment_counts: { 1: 2, 0: 1, '-1': 1 } });
    assert.deepEqual(trendPayload(comments, predictions).sentiment_data, [
      { timestamp: '2024-01-05T00:00:00Z', sentiment: 1 },
      { timestamp: '2024-02-05T00:00:00Z', sentiment: -1 },
      { timestamp: '2024-02-06T00:00:00Z', sentiment: 1 }]);
    assert.deepEqual(wordcloudPayload(comments).comments, comments.map((c) => c.text));
  });

  it('builds commentThreads URLs with the key as a parameter', () => {
    const u = new URL(commentThreadsUrl({ videoId: 'dQw4w9WgXcQ', apiKey: 'A&B', order: 'time', pageToken: 'T',
      includeReplies: true }));
    assert.equal(u.searchParams.get('key'), 'A&B');
    assert.equal(u.searchParams.get('pageToken'), 'T');
    assert.equal(u.searchParams.get('part'), 'snippet,replies');
  });
});
