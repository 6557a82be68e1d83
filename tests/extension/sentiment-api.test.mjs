// Unit tests of chrome-extension/lib/sentiment-api.js (node's built-in test runner: node --test tests/extension/).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  LABELS, analysisFrom, analyzePayload, chartPayload, feedbackError, feedbackPayload, isScored, postFeedback, postJson,
  sentimentApiError, trendPayload, wordcloudPayload,
} from '../../chrome-extension/lib/sentiment-api.js';

const COMMENTS = [
  { id: 'a', text: 'love it', author: 'UC1', likes: 0, publishedAt: '2024-01-05T00:00:00Z' },
  { id: 'b', text: 'hate this so much', author: 'UC2', likes: 9, publishedAt: '2024-02-05T00:00:00Z' },
  { id: 'c', text: 'ok', author: 'UC1', likes: 0, publishedAt: null },
  { id: 'd', text: 'great   video  👍', author: 'UC3', likes: 9, publishedAt: '2024-02-06T00:00:00Z' },
];
const PREDICTIONS = [1, -1, 0, 1].map((s) => ({ sentiment: s, label: LABELS[s] }));
const SUMMARY = { total: 4, counts: { '-1': 1, 0: 1, 1: 2 }, average_sentiment: 6.25 };

describe('errors', () => {
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
    const ok = { predictions: [{ sentiment: 1 }, { sentiment: -1 }], summary: { total: 2, counts: {} } };
    assert.deepEqual(analysisFrom(ok, 2, 'http://x'), { predictions: ok.predictions, summary: ok.summary });
    for (const bad of [null, {}, { predictions: [{ sentiment: 1 }], summary: ok.summary },
      { predictions: [{ sentiment: 2 }, {}], summary: ok.summary }, { predictions: ok.predictions },
      { predictions: [{ sentiment: '1' }, { sentiment: -1 }], summary: ok.summary },
      { predictions: ok.predictions, summary: { total: 2 } }]) {
      assert.throws(() => analysisFrom(bad, 2, 'http://x'), { code: 'api_error' });
    }
  });
});

describe('postJson', () => {
  it('posts JSON and returns a 2xx response', async () => {
    const calls = [];
    const fetchFn = async (url, init) => {
      calls.push({ url, init });
      return Response.json({ ok: true });
    };
    const response = await postJson(fetchFn, 'http://api', '/analyze', { comments: [] });
    assert.deepEqual(await response.json(), { ok: true });
    assert.equal(calls[0].url, 'http://api/analyze');
    assert.equal(calls[0].init.method, 'POST');
    assert.equal(calls[0].init.headers['Content-Type'], 'application/json');
    assert.equal(calls[0].init.body, '{"comments":[]}');
    assert.ok(calls[0].init.signal instanceof AbortSignal);
  });

  it('maps a thrown fetch, a timeout and error statuses', async () => {
    const thrown = async () => {
      throw new TypeError('Failed to fetch');
    };
    await assert.rejects(postJson(thrown, 'http://api', '/analyze', {}), { code: 'api_unreachable' });
    // A server that would answer after 5 s. Its timer also keeps node's event loop alive: AbortSignal.timeout's
    // own timer does not, and node would end the test while the abort is still pending.
    const slow = (url, init) => new Promise((resolve, reject) => {
      const answer = setTimeout(() => resolve(Response.json({})), 5000);
      init.signal.addEventListener('abort', () => {
        clearTimeout(answer);
        reject(init.signal.reason);
      });
    });
    await assert.rejects(postJson(slow, 'http://api', '/analyze', {}, { timeoutMs: 20 }),
      (err) => err.code === 'api_timeout' && /within 0.02 s/.test(err.message));
    const notReady = async () => Response.json({ error: 'model not ready', detail: 'loading' }, { status: 503 });
    await assert.rejects(postJson(notReady, 'http://api', '/analyze', {}),
      (err) => err.code === 'api_not_ready' && err.detail === 'model not ready: loading');
    const html = async () => new Response('<h1>bad gateway</h1>', { status: 502 });
    await assert.rejects(postJson(html, 'http://api', '/analyze', {}), { code: 'api_error' });
  });
});

describe('request bodies', () => {
  it('builds the request bodies of the API contract', () => {
    assert.deepEqual(analyzePayload(COMMENTS.slice(2, 4)), { comments: [
      { text: 'ok', likes: 0, author: 'UC1' },
      { text: 'great   video  👍', likes: 9, author: 'UC3', timestamp: '2024-02-06T00:00:00Z' }], explain: true });
    assert.deepEqual(chartPayload(SUMMARY.counts), { sentiment_counts: { 1: 2, 0: 1, '-1': 1 } });
    assert.deepEqual(trendPayload(COMMENTS, PREDICTIONS).sentiment_data, [
      { timestamp: '2024-01-05T00:00:00Z', sentiment: 1 },
      { timestamp: '2024-02-05T00:00:00Z', sentiment: -1 },
      { timestamp: '2024-02-06T00:00:00Z', sentiment: 1 }]);
    assert.deepEqual(wordcloudPayload(COMMENTS).comments, COMMENTS.map((c) => c.text));
    assert.deepEqual(analyzePayload(COMMENTS.slice(2, 3), 'Xk7pQ2mN9aB'),
      { comments: [{ text: 'ok', likes: 0, author: 'UC1' }], explain: true, video_id: 'Xk7pQ2mN9aB' });
    assert.deepEqual(feedbackPayload('p-1', -1, 'client-0001'), { prediction_id: 'p-1', label: -1, client_id: 'client-0001' });
  });

  it('leaves comments in unscored languages out of the trend and the word cloud', () => {
    const predictions = PREDICTIONS.map((p, i) => ({ ...p, language_supported: i !== 1 }));
    assert.deepEqual(predictions.map(isScored), [true, false, true, true]);
    assert.deepEqual(trendPayload(COMMENTS, predictions).sentiment_data, [
      { timestamp: '2024-01-05T00:00:00Z', sentiment: 1 },
      { timestamp: '2024-02-06T00:00:00Z', sentiment: 1 }]);
    assert.deepEqual(wordcloudPayload(COMMENTS, predictions).comments, ['love it', 'ok', 'great   video  👍']);
    // An older API says nothing about languages: every comment is scored.
    assert.deepEqual(wordcloudPayload(COMMENTS, PREDICTIONS).comments, COMMENTS.map((c) => c.text));
  });

  it('names the classes as the API does', () => {
    assert.deepEqual({ ...LABELS }, { '-1': 'negative', 0: 'neutral', 1: 'positive' });
  });
});

describe('postFeedback', () => {
  const BODY = feedbackPayload('5f0c1c8e-0000-4000-8000-000000000001', 1, 'client-0001');

  it('posts the correction and returns the API answer', async () => {
    const calls = [];
    const fetchFn = async (url, init) => {
      calls.push({ url, init });
      return Response.json({ feedback_id: 7, status: 'created', prediction_id: BODY.prediction_id, label: 1 },
        { status: 201 });
    };
    const answer = await postFeedback(fetchFn, 'http://api', BODY);
    assert.equal(answer.status, 'created');
    assert.equal(calls[0].url, 'http://api/feedback');
    assert.deepEqual(JSON.parse(calls[0].init.body), BODY);
    assert.equal(calls[0].init.headers['Content-Type'], 'application/json');
  });

  it('takes a label queued while the API\'s database is down (202) as received', async () => {
    const queued = async () => Response.json(
      { feedback_id: null, status: 'queued', prediction_id: BODY.prediction_id, label: 1 }, { status: 202 });
    assert.equal((await postFeedback(queued, 'http://api', BODY)).status, 'queued');
  });

  const cases = [
    // [status, body, headers, code, message]
    [404, { error: 'not found', detail: 'no endpoint at /feedback; GET /openapi.json lists the API\'s routes' }, {},
      'feedback_unsupported', /does not accept them \(no \/feedback\)/],
    [405, { error: 'method not allowed', detail: 'POST is not allowed on /feedback' }, {}, 'feedback_unsupported', /Corrections unavailable/],
    [404, '<h1>Not Found</h1>', {}, 'feedback_unsupported', /Corrections unavailable/],
    [404, { error: 'unknown prediction', detail: 'no prediction 5f0c…' }, {}, 'feedback_unknown', /no longer knows this prediction/],
    [404, { error: 'not found', detail: 'no prediction with this id' }, {}, 'feedback_unknown', /no longer knows/],
    [429, { error: 'too many requests', detail: '30 per minute' }, { 'Retry-After': '12' }, 'feedback_rate_limited',
      /too many corrections at once\. Try again in 12 s\./],
    [503, { error: 'storage unavailable', detail: 'database down' }, { 'Retry-After': '5' }, 'feedback_unavailable',
      /cannot store corrections right now\. Try again in 5 s\./],
    [503, { error: 'storage unavailable' }, {}, 'feedback_unavailable', /right now\. Try again later\./],
    [400, { error: 'invalid request', detail: 'label: must be -1, 0 or 1' }, {}, 'feedback_rejected',
      /rejected the correction \(invalid request: label: must be -1, 0 or 1\)/],
    [500, { error: 'internal server error', detail: 'logged' }, {}, 'feedback_error', /HTTP 500\): internal server error/],
  ];
  for (const [status, body, headers, code, message] of cases) {
    it(`maps HTTP ${status} ${typeof body === 'string' ? body : body.error} to ${code}`, async () => {
      const fetchFn = async () => (typeof body === 'string'
        ? new Response(body, { status, headers }) : Response.json(body, { status, headers }));
      await assert.rejects(postFeedback(fetchFn, 'http://api', BODY, { sleep: async () => {} }),
        (err) => err.code === code && message.test(err.message));
    });
  }

  it('asks again about a prediction the API has not logged yet, then gives up', async () => {
    const waits = [];
    const sleep = async (ms) => { waits.push(ms); };
    const unknown = () => Response.json({ error: 'unknown prediction', detail: 'not written yet' }, { status: 404 });
    let calls = 0;
    const thirdTime = async () => (++calls < 3 ? unknown()
      : Response.json({ feedback_id: 1, status: 'created', prediction_id: BODY.prediction_id, label: 1 }, { status: 201 }));
    assert.equal((await postFeedback(thirdTime, 'http://api', BODY, { sleep })).status, 'created');
    assert.deepEqual(waits, [1000, 3000]);
    calls = 0;
    await assert.rejects(postFeedback(async () => { calls += 1; return unknown(); }, 'http://api', BODY,
      { sleep, unknownRetriesMs: [5] }), { code: 'feedback_unknown' });
    assert.equal(calls, 2);
  });

  it('maps a failed fetch and an unexpected answer', async () => {
    await assert.rejects(postFeedback(async () => { throw new TypeError('Failed to fetch'); }, 'http://api', BODY),
      (err) => err.code === 'feedback_unreachable' && /cannot reach/.test(err.message));
    const timeout = async () => { throw new DOMException('signal timed out', 'TimeoutError'); };
    await assert.rejects(postFeedback(timeout, 'http://api', BODY), (err) => /did not answer in time/.test(err.message));
    await assert.rejects(postFeedback(async () => Response.json({ ok: 1 }, { status: 201 }), 'http://api', BODY),
      { code: 'feedback_error' });
    assert.equal(feedbackError({ status: 418 }).code, 'feedback_error');
  });
});
