/**
 * Popup: find the video, fetch its comments from the YouTube Data API, send them to the sentiment API
 * (POST /analyze, then the three PNG chart endpoints in parallel) and render the results.
 *
 * Logic lives in lib/logic.js; this file only wires it to chrome.*, fetch and the DOM.
 * Comment text is only ever assigned with textContent.
 *
 * For tests and links, popup.html?videoId=ID analyses that video instead of the active tab's.
 * Timings are exposed on #results as data-render-ms (results rendered after the /analyze answer arrived)
 * and data-charts-ms (all chart images decoded).
 */
import {
  UserFacingError, analyzePayload, chartPayload, computeMetrics, fetchAllComments, formatScore, isVideoId,
  parseVideoId, predictionsFrom, sentimentApiError, trendPayload, wordcloudPayload, withDefaults,
} from './lib/logic.js';

const API_TIMEOUT_MS = 60_000;
const $ = (id) => document.getElementById(id);

function setState(state) {
  document.body.dataset.state = state;
}

function showProgress(text, value = null, max = 100) {
  $('status').hidden = false;
  $('status-text').textContent = text;
  const bar = $('progress');
  if (value === null) {
    bar.removeAttribute('value');
  } else {
    bar.max = max;
    bar.value = value;
  }
}

function showError(err) {
  const known = err instanceof UserFacingError;
  const code = known ? err.code : 'unexpected';
  if (!known) console.error(err);
  setState('error');
  document.body.dataset.errorCode = code;
  $('status').hidden = true;
  $('results').hidden = true;
  $('error').hidden = false;
  $('error-message').textContent = known ? err.message : `Something went wrong: ${err?.message ?? err}`;
  const detail = known ? err.detail : '';
  $('error-detail').textContent = detail;
  $('error-detail').hidden = !detail;
  $('error-options').hidden = !(known && err.action === 'options');
}

async function loadSettings() {
  const { settings } = await chrome.storage.local.get('settings');
  return withDefaults(settings);
}

async function resolveVideoId() {
  const param = new URLSearchParams(location.search).get('videoId');
  if (param !== null) return isVideoId(param) ? param : null;
  const [tab] = await chrome.tabs.query({ active: true, currentWindow: true });
  return tab?.url ? parseVideoId(tab.url) : null;
}

/** POST JSON to the sentiment API; returns the Response, or throws a UserFacingError. */
async function postToApi(apiBase, path, body) {
  let response;
  try {
    response = await fetch(`${apiBase}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(API_TIMEOUT_MS),
    });
  } catch (err) {
    if (err?.name === 'TimeoutError') {
      throw new UserFacingError('api_timeout',
        `The sentiment API at ${apiBase} did not answer within ${API_TIMEOUT_MS / 1000} s. Try fewer comments.`);
    }
    throw sentimentApiError(apiBase, { thrown: true });
  }
  if (!response.ok) {
    const errBody = await response.json().catch(() => null);
    throw sentimentApiError(apiBase, { status: response.status, body: errBody });
  }
  return response;
}

/** Fetch one PNG chart and show it; a chart failure is reported in its figure, not fatal. */
async function loadChart(name, request) {
  const figure = document.querySelector(`figure[data-chart="${name}"]`);
  const img = $(`img-${name}`);
  const status = figure.querySelector('.chart-status');
  try {
    const response = await request;
    const blob = await response.blob();
    if (!blob.type.startsWith('image/')) throw new Error(`expected an image, got "${blob.type || 'no type'}"`);
    img.src = URL.createObjectURL(blob);
    await img.decode();
    img.hidden = false;
    status.hidden = true;
    figure.dataset.loaded = 'true';
  } catch (err) {
    figure.dataset.loaded = 'false';
    status.textContent = `Chart unavailable: ${err.message}`;
    status.classList.add('failed');
  }
}

function badge(prediction) {
  const el = document.createElement('span');
  el.className = `badge ${prediction.label}`;
  el.textContent = prediction.label;
  if (typeof prediction.confidence === 'number') el.title = `confidence ${(prediction.confidence * 100).toFixed(0)}%`;
  return el;
}

function renderResults(videoId, metrics) {
  const link = $('video-link');
  link.href = `https://www.youtube.com/watch?v=${encodeURIComponent(videoId)}`;
  link.textContent = videoId;
  $('m-total').textContent = String(metrics.total);
  $('m-unique').textContent = String(metrics.uniqueCommenters);
  $('m-words').textContent = metrics.avgWords.toFixed(1);
  $('m-score').textContent = formatScore(metrics.avgScore);
  $('m-weighted').textContent = formatScore(metrics.likeWeightedScore);
  $('c-positive').textContent = String(metrics.counts[1]);
  $('c-neutral').textContent = String(metrics.counts[0]);
  $('c-negative').textContent = String(metrics.counts[-1]);

  const list = document.createDocumentFragment();
  for (const c of metrics.top) {
    const li = document.createElement('li');
    li.dataset.sentiment = c.prediction.label;
    const meta = document.createElement('div');
    meta.className = 'meta';
    const likes = document.createElement('span');
    likes.className = 'likes';
    likes.textContent = `${c.likes.toLocaleString('en')} likes`;
    const author = document.createElement('span');
    author.className = 'author';
    author.textContent = c.authorName + (c.isReply ? ' (reply)' : '');
    meta.append(badge(c.prediction), likes, author);
    const text = document.createElement('p');
    text.className = 'text';
    text.textContent = c.text;
    li.append(meta, text);
    list.append(li);
  }
  $('top-comments').replaceChildren(list);
  $('status').hidden = true;
  $('results').hidden = false;
}

const nextFrame = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));

async function run() {
  setState('loading');
  showProgress('Reading settings…');
  const settings = await loadSettings();
  const videoId = await resolveVideoId();
  if (!videoId) {
    throw new UserFacingError('not_video_page',
      'This is not a YouTube video page. Open a video (youtube.com/watch?v=…, youtu.be/…, or a Short) '
      + 'and click the icon again.');
  }
  if (!settings.apiKey) {
    throw new UserFacingError('no_key', 'Add your YouTube Data API key in the options first.', { action: 'options' });
  }

  const limit = settings.maxComments;
  showProgress(`Fetching comments… 0 / ${limit}`, 0, limit);
  const comments = await fetchAllComments({
    fetchFn: (url) => fetch(url),
    videoId,
    apiKey: settings.apiKey,
    limit,
    order: settings.order,
    includeReplies: settings.includeReplies,
    onProgress: (n) => showProgress(`Fetching comments… ${n} / ${limit}`, n, limit),
  });
  if (comments.length === 0) {
    throw new UserFacingError('no_comments', 'This video has no comments yet.');
  }

  showProgress(`Analysing ${comments.length} comments…`);
  const { apiBase } = settings;
  // The word cloud needs only the texts, so it is drawn while /analyze runs.
  const wordcloud = postToApi(apiBase, '/generate_wordcloud', wordcloudPayload(comments));
  wordcloud.catch(() => {});
  const analysis = await (await postToApi(apiBase, '/analyze', analyzePayload(comments))).json();

  const t0 = performance.now();
  const predictions = predictionsFrom(analysis, comments.length, apiBase);
  const metrics = computeMetrics(comments, predictions);
  renderResults(videoId, metrics);
  await nextFrame();
  const results = $('results');
  results.dataset.renderMs = (performance.now() - t0).toFixed(1);

  await Promise.all([
    loadChart('chart', postToApi(apiBase, '/generate_chart', chartPayload(metrics.counts))),
    loadChart('trend', postToApi(apiBase, '/generate_trend_graph', trendPayload(comments, predictions))),
    loadChart('wordcloud', wordcloud),
  ]);
  results.dataset.chartsMs = (performance.now() - t0).toFixed(1);
  setState('done');
}

function openOptions() {
  chrome.runtime.openOptionsPage();
}

$('open-options').addEventListener('click', openOptions);
$('error-options').addEventListener('click', openOptions);
run().catch(showError);
