/**
 * What the popup's results view shows, from the fetched comments and the API's /analyze answer: the API's
 * summary figures as sent (the API is their one home), the comments in other languages it did not score, the
 * months of the trend (sparse ones marked), the class shares with their 95 % intervals, the most-liked comments,
 * the comments the model is least sure of, whether each comment can be corrected (POST /feedback), and why each got
 * its label (the API's `why` terms, said in words, and where they occur in the comment's text).
 * Pure: no DOM, no chrome.*.
 */
import { LABELS, isScored } from './sentiment-api.js';

export const TOP_N = 25;
/**
 * "Least sure": a scored comment whose predicted class has a probability below LEAST_SURE_CONFIDENCE. The model's
 * probabilities are calibrated (a 0.6 is right about 60 % of the time), and on the human-labelled test rows the
 * comments below 0.55 are right less than half the time (48.9 %; 22 % of the comments): their label is as likely
 * wrong as right (docs/model.md, "Honest confidence"). Such comments in the top list carry a mark inviting a
 * correction, and the LEAST_SURE_N least sure ones outside the top list are listed on their own ("Help the model").
 */
export const LEAST_SURE_CONFIDENCE = 0.55;
export const LEAST_SURE_N = 5;
/** The classes in the order the popup lists them. */
export const CLASS_ORDER = Object.freeze([1, 0, -1]);

const LANGUAGE_WORDS = { und: 'undetermined' };

/** Percent of a 0..1 fraction, no decimals (one below 1 %). */
export function formatPercent(fraction) {
  const pct = fraction * 100;
  if (pct > 0 && pct < 1) return `${pct.toFixed(1)}%`;
  return `${Math.round(pct)}%`;
}

/**
 * "N comments in other languages were not scored (es 3, ja 2)" from the summary, or null when there are none
 * (or an older API did not say).
 */
export function otherLanguagesMessage(summary) {
  const n = summary?.other_languages;
  if (!Number.isInteger(n) || n <= 0) return null;
  const languages = Object.entries(summary.languages ?? {})
    .filter(([, count]) => Number.isInteger(count) && count > 0)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([code, count]) => `${LANGUAGE_WORDS[code] ?? code} ${count}`);
  const what = n === 1 ? '1 comment in another language was not scored' : `${n} comments in other languages were not scored`;
  return `${what}${languages.length ? ` (${languages.join(', ')})` : ''}. They are left out of the counts, `
    + 'averages, charts and word cloud.';
}

/**
 * The class shares with their 95 % (Wilson) intervals as text for a tooltip, keyed by class (1, 0, -1); an
 * empty object when the API sent none.
 */
export function shareTexts(summary) {
  const out = {};
  const shares = summary?.shares;
  if (!shares || typeof shares !== 'object') return out;
  const scored = summary.scored ?? summary.total;
  for (const cls of CLASS_ORDER) {
    const s = shares[String(cls)];
    if (!s || ![s.share, s.low, s.high].every((x) => typeof x === 'number' && Number.isFinite(x))) continue;
    const of = Number.isInteger(scored) ? ` of ${scored} scored comments` : '';
    out[cls] = `${LABELS[cls]}: ${formatPercent(s.share)}${of}; 95% interval ${formatPercent(s.low)}–`
      + `${formatPercent(s.high)} (how far the share could be off, given this few comments)`;
  }
  return out;
}

/**
 * The months of the trend: [{month, count, sparse, text}] in the API's order; `sparse` months have too few
 * comments for their shares to mean much, and say so in their text.
 */
export function monthsView(months) {
  if (!Array.isArray(months)) return [];
  return months
    .filter((m) => m && typeof m.month === 'string' && Number.isInteger(m.count))
    .map((m) => {
      const sparse = m.sparse === true;
      const comments = m.count === 1 ? '1 comment' : `${m.count} comments`;
      return { month: m.month, count: m.count, sparse, text: `${m.month}: ${comments}${sparse ? ' (too few to read)' : ''}` };
    });
}

/**
 * Whether a comment's prediction can be corrected, and why not: {enabled, reason}.
 * @param {object} prediction one item of /analyze `predictions`
 */
export function feedbackAvailability(prediction) {
  if (!isScored(prediction)) {
    const lang = prediction.language ? ` (${LANGUAGE_WORDS[prediction.language] ?? prediction.language})` : '';
    return { enabled: false, reason: `Not scored: this comment is in another language${lang}.` };
  }
  if (typeof prediction?.prediction_id !== 'string' || !prediction.prediction_id) {
    return { enabled: false,
      reason: 'Corrections unavailable: this version of the sentiment API sends no prediction ids.' };
  }
  return { enabled: true, reason: null };
}

function isLeastSure(prediction) {
  return isScored(prediction) && typeof prediction.confidence === 'number'
    && prediction.confidence < LEAST_SURE_CONFIDENCE;
}

/**
 * The results view model.
 * @param {Array<object>} comments flat comment records (youtube.js toComment), in the order sent
 * @param {{predictions: Array<object>, summary: object}} analysis checked /analyze answer (analysisFrom)
 */
export function resultsView(comments, { predictions, summary }) {
  if (comments.length !== predictions.length) {
    throw new Error(`got ${predictions.length} predictions for ${comments.length} comments`);
  }
  const figure = (value) => (typeof value === 'number' && Number.isFinite(value) ? value : null);
  const rows = comments.map((c, i) => {
    const prediction = predictions[i];
    return { ...c, prediction, index: i, scored: isScored(prediction), leastSure: isLeastSure(prediction),
      feedback: feedbackAvailability(prediction), why: whyView(prediction) };
  });
  // Stable order: ties keep the API's order (relevance or time).
  const byLikes = [...rows].sort((a, b) => b.likes - a.likes || a.index - b.index);
  const top = byLikes.slice(0, TOP_N);
  const inTop = new Set(top.map((r) => r.index));
  const leastSure = rows
    .filter((r) => r.leastSure && !inTop.has(r.index))
    .sort((a, b) => a.prediction.confidence - b.prediction.confidence || a.index - b.index)
    .slice(0, LEAST_SURE_N);
  const total = figure(summary.total) ?? comments.length;
  const other = Number.isInteger(summary.other_languages) ? summary.other_languages : null;
  return {
    total,
    scored: figure(summary.scored) ?? (other === null ? total : total - other),
    uniqueCommenters: figure(summary.unique_commenters),
    avgWords: figure(summary.average_words),
    avgScore: figure(summary.average_sentiment),
    likeWeightedScore: figure(summary.like_weighted_sentiment),
    counts: summary.counts,
    shares: shareTexts(summary),
    otherLanguages: otherLanguagesMessage(summary),
    months: monthsView(summary.months),
    top,
    leastSure,
  };
}

/**
 * The terms the API names for features of the whole comment rather than its words (its WhyTerm.term description),
 * as the popup says them.
 */
export const FEATURE_TERMS = Object.freeze({
  lexicon: 'its words’ sentiment-lexicon scores',
  length: 'its length',
  words: 'its number of words',
  emoji: 'its emoji',
  exclamations: 'its exclamation marks',
  questions: 'its question marks',
});
export const WHY_TERMS = 3;

/**
 * Why the model gave a scored comment its label, from the API's `why`: {text, terms: [{term, weight, feature}]}
 * (at most WHY_TERMS well-formed terms, in the API's order); null when there is none (not scored, or an API that
 * sent no `why`). `text` is plain text, for textContent only: the terms come from comments.
 */
export function whyView(prediction) {
  if (!isScored(prediction) || !Array.isArray(prediction.why)) return null;
  const terms = prediction.why
    .filter((t) => t && typeof t.term === 'string' && t.term && typeof t.weight === 'number'
      && Number.isFinite(t.weight) && t.weight > 0)
    .slice(0, WHY_TERMS)
    .map((t) => ({ term: t.term, weight: t.weight, feature: Object.hasOwn(FEATURE_TERMS, t.term) }));
  const label = LABELS[prediction.sentiment] ?? 'its label';
  if (terms.length === 0) return { text: `Nothing in particular pushed it toward ${label}.`, terms };
  const named = terms.map((t) => `${t.feature ? FEATURE_TERMS[t.term] : `“${t.term}”`} (+${t.weight.toFixed(2)})`);
  return { text: `Pushed toward ${label} by ${named.join(', ')}.`, terms };
}

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * `text` cut into [{text, term}] segments, `term` true where one of the `terms` (words, not features; whyView's)
 * occurs as a whole word, ignoring case. Joined, the segments are `text` unchanged.
 */
export function highlightSegments(text, terms) {
  const words = [...new Set((terms ?? []).filter((t) => !t.feature).map((t) => t.term))]
    .sort((a, b) => b.length - a.length);
  if (words.length === 0 || !text) return text ? [{ text, term: false }] : [];
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}])(?:${words.map(escapeRegExp).join('|')})(?![\\p{L}\\p{N}])`, 'giu');
  const out = [];
  let at = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > at) out.push({ text: text.slice(at, match.index), term: false });
    out.push({ text: match[0], term: true });
    at = match.index + match[0].length;
  }
  if (at < text.length) out.push({ text: text.slice(at), term: false });
  return out;
}

/** A figure to one decimal, or '–' when the API did not send it. */
export function formatScore(value) {
  return value === null || value === undefined ? '–' : value.toFixed(1);
}

/** A count as text, or '–' when the API did not send it. */
export function formatCount(value) {
  return value === null || value === undefined ? '–' : String(value);
}
