/**
 * Popup: find the video, fetch its comments from the YouTube Data API, send them to the sentiment API
 * (POST /analyze, then the three PNG chart endpoints in parallel) and render the results.
 *
 * Logic lives in lib/ (settings.js, youtube.js, sentiment-api.js, view-model.js); this file only wires it to
 * chrome.*, fetch and the DOM. Every figure shown comes from the API's /analyze summary, as sent; comments in
 * languages the model does not score are left out of the counts, trend and word cloud.
 * Each listed comment has a correction control (POST /feedback with the anonymous client id kept in
 * chrome.storage.local); when the API cannot take corrections the control says why, the rest still works.
 * Hovering (or focusing) a comment's label shows why the model gave it (the API's `why` terms, in words) and marks
 * those terms in the comment's text.
 * Comment text, and every term taken from it, is only ever assigned with textContent.
 *
 * For tests and links, popup.html?videoId=ID analyses that video instead of the active tab's.
 * Timings are exposed on #results as data-render-ms (results rendered after the /analyze answer arrived)
 * and data-charts-ms (all chart images decoded).
 */
import { UserFacingError } from './lib/errors.js';
import {
  LABELS, analysisFrom, analyzePayload, chartPayload, feedbackPayload, postFeedback, postJson, trendPayload,
  wordcloudPayload,
} from './lib/sentiment-api.js';
import { CLIENT_ID_KEY, clientIdFrom, withDefaults } from './lib/settings.js';
import { CLASS_ORDER, formatCount, formatScore, highlightSegments, resultsView } from './lib/view-model.js';
import { fetchAllComments, isVideoId, parseVideoId } from './lib/youtube.js';

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
function postToApi(apiBase, path, body) {
  return postJson((url, init) => fetch(url, init), apiBase, path, body);
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

let whyCount = 0; // a comment may be listed twice (top and least sure): its tooltips need distinct ids

function badge(row) {
  const el = document.createElement('span');
  const { prediction } = row;
  if (!row.scored) {
    el.className = 'badge other';
    el.textContent = `not scored${prediction.language ? ` (${prediction.language})` : ''}`;
    el.title = 'In a language the model does not score: left out of the figures';
    return el;
  }
  el.className = `badge ${prediction.label}`;
  el.textContent = prediction.label;
  const confidence = typeof prediction.confidence === 'number'
    ? `confidence ${(prediction.confidence * 100).toFixed(0)}%` : '';
  if (!row.why) {
    if (confidence) el.title = confidence;
    return el;
  }
  // The label with its reason, shown on hover or keyboard focus (CSS); the reason is text, never markup.
  const label = document.createElement('span');
  label.className = 'label';
  label.tabIndex = 0;
  const why = document.createElement('span');
  why.className = 'why';
  why.id = `why-${row.index}-${++whyCount}`;
  why.setAttribute('role', 'tooltip');
  why.textContent = confidence ? `${row.why.text} (${confidence})` : row.why.text;
  label.setAttribute('aria-describedby', why.id);
  label.append(el, why);
  return label;
}

/** The comment's text, its why-terms in <mark> elements, every piece set as text. */
function commentText(row) {
  const text = document.createElement('p');
  text.className = 'text';
  text.replaceChildren(...highlightSegments(row.text, row.why?.terms).map((segment) => {
    if (!segment.term) return document.createTextNode(segment.text);
    const mark = document.createElement('mark');
    mark.className = 'why-term';
    mark.textContent = segment.text;
    return mark;
  }));
  return text;
}

/** The correction controls: one per listed comment, and the API's answer about /feedback for all of them. */
const feedback = {
  apiBase: null,
  controls: [],
  unsupported: null, // the reason, once the API said it has no /feedback
  clientId: null,
};

/** The anonymous client id: made once (crypto.randomUUID) and kept in chrome.storage.local. */
async function clientId() {
  if (!feedback.clientId) {
    const { [CLIENT_ID_KEY]: stored } = await chrome.storage.local.get(CLIENT_ID_KEY);
    const { clientId: id, created } = clientIdFrom(stored, () => crypto.randomUUID());
    if (created) await chrome.storage.local.set({ [CLIENT_ID_KEY]: id });
    feedback.clientId = id;
  }
  return feedback.clientId;
}

function setControl(control, state, message) {
  control.group.dataset.state = state;
  control.status.textContent = message;
  const busy = state === 'sending';
  const off = state === 'unavailable';
  for (const button of control.buttons) {
    button.disabled = busy || off;
    button.setAttribute('aria-pressed', String(Number(button.dataset.label) === control.label));
  }
}

function disableAllControls(reason) {
  feedback.unsupported = reason;
  for (const control of feedback.controls) setControl(control, 'unavailable', reason);
}

const RECORDED = {
  created: (label) => `Recorded: ${label}. Thank you!`,
  updated: (label) => `Changed to ${label}. Thank you!`,
  unchanged: (label) => `Already recorded: ${label}.`,
  queued: (label) => `Received: ${label}. It will be recorded shortly. Thank you!`,
};

async function sendCorrection(control, label) {
  const previous = control.label;
  setControl(control, 'sending', `Sending: ${LABELS[label]}…`);
  try {
    const body = feedbackPayload(control.predictionId, label, await clientId());
    const answer = await postFeedback((url, init) => fetch(url, init), feedback.apiBase, body);
    control.label = label;
    setControl(control, 'recorded', RECORDED[answer.status](LABELS[label]));
    control.group.dataset.feedbackStatus = answer.status;
  } catch (err) {
    const known = err instanceof UserFacingError;
    if (!known) console.error(err);
    if (known && err.code === 'feedback_unsupported') {
      disableAllControls(err.message);
      return;
    }
    control.label = previous;
    setControl(control, 'failed', known ? err.message : `Not recorded: ${err?.message ?? err}`);
    control.group.dataset.errorCode = known ? err.code : 'unexpected';
  }
}

/** "Actually: positive / neutral / negative" buttons with a status line; disabled with the reason when unusable. */
function feedbackControl(row) {
  const group = document.createElement('div');
  group.className = 'feedback';
  group.setAttribute('role', 'group');
  const status = document.createElement('span');
  status.className = 'fb-status';
  status.setAttribute('role', 'status');
  status.setAttribute('aria-live', 'polite');
  status.id = `fb-status-${row.index}`;
  group.setAttribute('aria-label', 'Correct the label of this comment');
  group.setAttribute('aria-describedby', status.id);
  const prompt = document.createElement('span');
  prompt.className = 'fb-prompt';
  prompt.textContent = 'Actually:';
  group.append(prompt);
  const control = { group, status, buttons: [], label: null, predictionId: row.prediction.prediction_id ?? null };
  for (const cls of CLASS_ORDER) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = `fb ${LABELS[cls]}`;
    button.dataset.label = String(cls);
    button.textContent = LABELS[cls];
    button.title = `This comment is actually ${LABELS[cls]}`;
    button.addEventListener('click', () => sendCorrection(control, cls));
    control.buttons.push(button);
    group.append(button);
  }
  group.append(status);
  if (!row.feedback.enabled) {
    setControl(control, 'unavailable', row.feedback.reason);
  } else if (feedback.unsupported) {
    setControl(control, 'unavailable', feedback.unsupported);
  } else {
    group.dataset.predictionId = control.predictionId;
    setControl(control, 'idle', row.leastSure ? 'The model is unsure: what is it?' : '');
    feedback.controls.push(control);
  }
  return group;
}

function commentItem(row) {
  const li = document.createElement('li');
  li.dataset.sentiment = row.scored ? row.prediction.label : 'not-scored';
  if (row.leastSure) li.dataset.leastSure = 'true';
  const meta = document.createElement('div');
  meta.className = 'meta';
  const likes = document.createElement('span');
  likes.className = 'likes';
  likes.textContent = `${row.likes.toLocaleString('en')} likes`;
  const author = document.createElement('span');
  author.className = 'author';
  author.textContent = row.authorName + (row.isReply ? ' (reply)' : '');
  meta.append(badge(row), likes, author);
  if (row.leastSure) {
    const unsure = document.createElement('span');
    unsure.className = 'unsure';
    unsure.textContent = `least sure (${(row.prediction.confidence * 100).toFixed(0)}%): please label`;
    meta.append(unsure);
  }
  li.append(meta, commentText(row), feedbackControl(row));
  return li;
}

function renderMonths(months) {
  const list = $('months');
  list.replaceChildren(...months.map((m) => {
    const li = document.createElement('li');
    li.dataset.month = m.month;
    li.dataset.count = String(m.count);
    if (m.sparse) {
      li.className = 'sparse';
      li.title = 'Too few comments this month for its shares to mean much';
    }
    li.textContent = m.text;
    return li;
  }));
  list.hidden = months.length === 0;
}

function renderResults(videoId, view) {
  const link = $('video-link');
  link.href = `https://www.youtube.com/watch?v=${encodeURIComponent(videoId)}`;
  link.textContent = videoId;
  $('m-total').textContent = formatCount(view.total);
  $('m-scored').textContent = formatCount(view.scored);
  $('m-unique').textContent = formatCount(view.uniqueCommenters);
  $('m-words').textContent = formatScore(view.avgWords);
  $('m-score').textContent = formatScore(view.avgScore);
  $('m-weighted').textContent = formatScore(view.likeWeightedScore);
  $('c-positive').textContent = formatCount(view.counts[1]);
  $('c-neutral').textContent = formatCount(view.counts[0]);
  $('c-negative').textContent = formatCount(view.counts[-1]);
  for (const li of document.querySelectorAll('.counts li')) {
    const text = view.shares[li.dataset.class];
    if (text) li.title = text;
  }
  const note = $('languages-note');
  note.textContent = view.otherLanguages ?? '';
  note.hidden = !view.otherLanguages;
  renderMonths(view.months);

  $('top-comments').replaceChildren(...view.top.map(commentItem));
  $('least-sure').replaceChildren(...view.leastSure.map(commentItem));
  $('least-sure-section').hidden = view.leastSure.length === 0;
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
  feedback.apiBase = apiBase;
  const answer = await (await postToApi(apiBase, '/analyze', analyzePayload(comments, videoId))).json();

  const t0 = performance.now();
  const analysis = analysisFrom(answer, comments.length, apiBase);
  const { predictions } = analysis;
  const view = resultsView(comments, analysis);
  renderResults(videoId, view);
  await nextFrame();
  const results = $('results');
  results.dataset.renderMs = (performance.now() - t0).toFixed(1);

  await Promise.all([
    loadChart('chart', postToApi(apiBase, '/generate_chart', chartPayload(analysis.summary.counts))),
    loadChart('trend', postToApi(apiBase, '/generate_trend_graph', trendPayload(comments, predictions))),
    // Only the scored comments' texts: the word cloud skips the languages the model does not score.
    loadChart('wordcloud', postToApi(apiBase, '/generate_wordcloud', wordcloudPayload(comments, predictions))),
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
