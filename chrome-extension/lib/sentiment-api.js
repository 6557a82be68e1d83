/**
 * The sentiment API client: request bodies of its contract, POST through an injected fetch with a timeout,
 * its /analyze answer checked against the contract, POST /feedback (a person's correction of one prediction) and
 * every failure mapped to a UserFacingError.
 * The API computes every figure the popup shows (/analyze's `summary`); nothing is recomputed here.
 * Comments in a language the model does not score (`language_supported: false`) are left out of the trend and
 * word-cloud requests, as the API leaves them out of the summary's counts.
 * Pure: no DOM, no chrome.*.
 */
import { UserFacingError } from './errors.js';

/** The API's label table (ytsentiment.contract.LABELS): the extension's one copy. */
export const LABELS = Object.freeze({ '-1': 'negative', 0: 'neutral', 1: 'positive' });
export const API_TIMEOUT_MS = 60_000;
export const FEEDBACK_TIMEOUT_MS = 10_000;
/** Waits before asking again about a prediction the API does not know yet (its log is written in the background). */
export const FEEDBACK_UNKNOWN_RETRIES_MS = Object.freeze([1000, 3000]);

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

/**
 * POST `body` as JSON to `${apiBase}${path}`; resolves to the Response when it is 2xx.
 * @param {(url: string, init: object) => Promise<Response>} fetchFn injected fetch (global fetch in the popup)
 * @throws {UserFacingError} api_timeout, api_unreachable, api_not_ready or api_error
 */
export async function postJson(fetchFn, apiBase, path, body, { timeoutMs = API_TIMEOUT_MS } = {}) {
  let response;
  try {
    response = await fetchFn(`${apiBase}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    if (err?.name === 'TimeoutError') {
      throw new UserFacingError('api_timeout',
        `The sentiment API at ${apiBase} did not answer within ${timeoutMs / 1000} s. Try fewer comments.`);
    }
    throw sentimentApiError(apiBase, { thrown: true });
  }
  if (!response.ok) {
    const errBody = await response.json().catch(() => null);
    throw sentimentApiError(apiBase, { status: response.status, body: errBody });
  }
  return response;
}

/**
 * Body of POST /analyze: text, likes and author of each comment (+ its timestamp when known), `explain: true` (each
 * prediction's `why`: the terms that pushed it toward its label) and the video id (kept with the logged predictions)
 * when given.
 */
export function analyzePayload(comments, videoId = null) {
  const body = {
    comments: comments.map((c) => {
      const item = { text: c.text, likes: c.likes, author: c.author };
      if (c.publishedAt) item.timestamp = c.publishedAt;
      return item;
    }),
    explain: true,
  };
  if (videoId) body.video_id = videoId;
  return body;
}

/** Whether the model scored this prediction: false only when the API says its language is not supported. */
export function isScored(prediction) {
  return prediction?.language_supported !== false;
}

/**
 * The `/analyze` answer ({predictions, summary}), checked against the number of comments sent.
 * @throws {UserFacingError} when the response does not follow the API contract
 */
export function analysisFrom(response, expected, apiBase) {
  const predictions = response?.predictions;
  const summary = response?.summary;
  const valid = Array.isArray(predictions) && predictions.length === expected
    && predictions.every((p) => p && Object.hasOwn(LABELS, String(p.sentiment)) && typeof p.sentiment === 'number')
    && summary !== null && typeof summary === 'object' && summary.counts !== null && typeof summary.counts === 'object';
  if (!valid) {
    throw new UserFacingError('api_error',
      `The sentiment API at ${apiBase} answered /analyze with an unexpected response; is the URL right and the API `
      + 'up to date?');
  }
  return { predictions, summary };
}

/** Body of POST /generate_chart (pie chart) from the summary's counts. */
export function chartPayload(counts) {
  return { sentiment_counts: { 1: counts[1], 0: counts[0], '-1': counts['-1'] } };
}

/** Body of POST /generate_trend_graph: scored comments with a timestamp only. */
export function trendPayload(comments, predictions) {
  return {
    sentiment_data: comments
      .map((c, i) => ({ timestamp: c.publishedAt, sentiment: predictions[i].sentiment, scored: isScored(predictions[i]) }))
      .filter((d) => d.timestamp && d.scored)
      .map(({ timestamp, sentiment }) => ({ timestamp, sentiment })),
  };
}

/** Body of POST /generate_wordcloud: the texts of the scored comments (all of them when no predictions are given). */
export function wordcloudPayload(comments, predictions = null) {
  return { comments: comments.filter((c, i) => !predictions || isScored(predictions[i])).map((c) => c.text) };
}

/** Body of POST /feedback: a person says prediction `predictionId` should have been `label` (-1, 0 or 1). */
export function feedbackPayload(predictionId, label, clientId) {
  return { prediction_id: predictionId, label, client_id: clientId };
}

function retryAfterText(response) {
  const seconds = Number(response?.headers?.get?.('Retry-After'));
  return Number.isFinite(seconds) && seconds > 0 ? ` Try again in ${Math.ceil(seconds)} s.` : ' Try again later.';
}

/**
 * The UserFacingError of a failed POST /feedback. `code` tells the control what to do next:
 * - feedback_unsupported: this API has no /feedback (an older version: 404 "not found" on the route, or 405);
 *   corrections are off for the whole view;
 * - feedback_unknown: the API does not know this prediction (404), e.g. its log was purged;
 * - feedback_rate_limited (429), feedback_unavailable (503: database down and nothing queued), feedback_rejected (400),
 *   feedback_unreachable (network, timeout), feedback_error (anything else): this one correction failed, retry.
 */
export function feedbackError({ status = null, body = null, response = null, thrown = false, timedOut = false } = {}) {
  if (thrown) {
    return new UserFacingError('feedback_unreachable',
      timedOut ? 'Not recorded: the API did not answer in time. Try again.'
        : 'Not recorded: cannot reach the sentiment API. Try again.');
  }
  const detail = body && typeof body === 'object'
    ? [body.error, body.detail].filter((x) => typeof x === 'string' && x).join(': ')
    : '';
  const routeMissing = status === 405 || (status === 404
    && (!body || typeof body !== 'object' || (body.error === 'not found' && !/prediction/i.test(String(body.detail ?? '')))));
  if (routeMissing) {
    return new UserFacingError('feedback_unsupported',
      'Corrections unavailable: this version of the sentiment API does not accept them (no /feedback).', { detail });
  }
  if (status === 404) {
    return new UserFacingError('feedback_unknown',
      'Not recorded: the API no longer knows this prediction. Analyse the video again to correct it.', { detail });
  }
  if (status === 429) {
    return new UserFacingError('feedback_rate_limited',
      `Not recorded: too many corrections at once.${retryAfterText(response)}`, { detail });
  }
  if (status === 503) {
    return new UserFacingError('feedback_unavailable',
      `Not recorded: the API cannot store corrections right now.${retryAfterText(response)}`, { detail });
  }
  if (status === 400) {
    return new UserFacingError('feedback_rejected', `Not recorded: the API rejected the correction${detail ? ` (${detail})` : ''}.`,
      { detail });
  }
  return new UserFacingError('feedback_error',
    `Not recorded: the API returned an error (HTTP ${status})${detail ? `: ${detail}` : ''}. Try again.`, { detail });
}

/**
 * POST /feedback; resolves to the API's answer {feedback_id, status: created|updated|unchanged|queued, prediction_id,
 * label} (queued: the API's database is down and the label waits to be stored, feedback_id null).
 * The API writes its prediction log a moment after answering /analyze, so a 404 "unknown prediction" right after
 * the results appear is retried after each of `unknownRetriesMs` before it is reported.
 * @throws {UserFacingError} one of feedbackError's codes
 */
export async function postFeedback(fetchFn, apiBase, body, {
  timeoutMs = FEEDBACK_TIMEOUT_MS, unknownRetriesMs = FEEDBACK_UNKNOWN_RETRIES_MS,
  sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
} = {}) {
  for (let attempt = 0; ; attempt += 1) {
    let response;
    try {
      response = await fetchFn(`${apiBase}/feedback`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw feedbackError({ thrown: true, timedOut: err?.name === 'TimeoutError' });
    }
    const answer = await response.json().catch(() => null);
    if (!response.ok) {
      const err = feedbackError({ status: response.status, body: answer, response });
      if (err.code === 'feedback_unknown' && attempt < unknownRetriesMs.length) {
        await sleep(unknownRetriesMs[attempt]);
        continue;
      }
      throw err;
    }
    if (!answer || !['created', 'updated', 'unchanged', 'queued'].includes(answer.status)) {
      throw new UserFacingError('feedback_error', 'Not recorded: the API answered /feedback with an unexpected response.');
    }
    return answer;
  }
}
