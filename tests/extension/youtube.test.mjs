// Unit tests of chrome-extension/lib/youtube.js against the recorded YouTube fixtures (node --test tests/extension/).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

import { UserFacingError } from '../../chrome-extension/lib/errors.js';
import {
  commentThreadsUrl, decodeEntities, fetchAllComments, parseVideoId, toComment, youtubeError,
} from '../../chrome-extension/lib/youtube.js';

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
});

describe('request URLs', () => {
  it('builds commentThreads URLs with the key as a parameter', () => {
    const u = new URL(commentThreadsUrl({ videoId: 'dQw4w9WgXcQ', apiKey: 'A&B', order: 'time', pageToken: 'T', // pragma: allowlist secret
      includeReplies: true }));
    assert.equal(u.searchParams.get('key'), 'A&B');
    assert.equal(u.searchParams.get('pageToken'), 'T');
    assert.equal(u.searchParams.get('part'), 'snippet,replies');
  });
});
