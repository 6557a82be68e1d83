// Unit tests of chrome-extension/lib/view-model.js (node's built-in test runner: node --test tests/extension/).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  LEAST_SURE_CONFIDENCE, LEAST_SURE_N, TOP_N, feedbackAvailability, formatCount, formatPercent, formatScore,
  highlightSegments, monthsView, otherLanguagesMessage, resultsView, shareTexts, whyView,
} from '../../chrome-extension/lib/view-model.js';

const COMMENTS = [
  { id: 'a', text: 'love it', author: 'UC1', likes: 0 },
  { id: 'b', text: 'hate this so much', author: 'UC2', likes: 9 },
  { id: 'c', text: 'ok', author: 'UC1', likes: 0 },
  { id: 'd', text: 'great   video  👍', author: 'UC3', likes: 9 },
];
const LABEL = { 1: 'positive', 0: 'neutral', '-1': 'negative' };
const PREDICTIONS = [1, -1, 0, 1].map((s) => ({ sentiment: s, label: LABEL[s] }));
const SUMMARY = { total: 4, counts: { '-1': 1, 0: 1, 1: 2 }, average_sentiment: 6.25, like_weighted_sentiment: 5.58,
  average_words: 2.5, unique_commenters: 3 };

describe('resultsView', () => {
  it('shows the API summary as sent and the comments by likes', () => {
    const view = resultsView(COMMENTS, { predictions: PREDICTIONS, summary: SUMMARY });
    assert.deepEqual(
      [view.total, view.uniqueCommenters, view.avgWords, view.avgScore, view.likeWeightedScore, view.counts],
      [4, 3, 2.5, 6.25, 5.58, SUMMARY.counts]);
    assert.deepEqual(view.top.map((c) => c.id), ['b', 'd', 'a', 'c'], 'by likes, ties keep API order');
    assert.equal(view.top[0].prediction.label, 'negative');
  });

  it('keeps only the top 25', () => {
    const many = Array.from({ length: 60 }, (_, i) => ({ id: `c${i}`, text: 'x', author: `U${i % 7}`, likes: i }));
    const view = resultsView(many, { predictions: many.map(() => ({ sentiment: 0 })), summary: SUMMARY });
    assert.equal(view.top.length, TOP_N);
    assert.equal(view.top[0].id, 'c59');
  });

  it('leaves figures an older API did not send empty', () => {
    const view = resultsView(COMMENTS, { predictions: PREDICTIONS,
      summary: { total: 4, counts: SUMMARY.counts, average_sentiment: 6.25 } });
    assert.equal(view.avgScore, 6.25);
    assert.deepEqual([view.uniqueCommenters, view.avgWords, view.likeWeightedScore], [null, null, null]);
    assert.equal(formatScore(view.avgWords), '–');
    assert.equal(formatCount(view.uniqueCommenters), '–');
  });

  it('refuses predictions that do not match the comments', () => {
    assert.throws(() => resultsView(COMMENTS, { predictions: PREDICTIONS.slice(1), summary: SUMMARY }),
      /3 predictions for 4 comments/);
  });

  it('formats figures', () => {
    assert.equal(formatScore(6.25), '6.3');
    assert.equal(formatScore(0), '0.0');
    assert.equal(formatCount(0), '0');
    assert.equal(formatScore(undefined), '–');
  });
});

// A mixed-language answer as the API sends it: 6 comments, two (es, ja) not scored.
const MIXED = [
  { text: 'love it', likes: 3, conf: 0.91, s: 1, lang: 'en' },
  { text: 'me encanta este vídeo', likes: 50, conf: 0.40, s: 0, lang: 'es', supported: false },
  { text: 'meh', likes: 0, conf: 0.38, s: 0, lang: 'en' },
  { text: 'これはすごい', likes: 2, conf: 0.35, s: 0, lang: 'ja', supported: false },
  { text: 'not sure what to think', likes: 1, conf: 0.49, s: -1, lang: 'en' },
  { text: 'fine I guess', likes: 1, conf: 0.55, s: 0, lang: 'en' },
];
const MIXED_COMMENTS = MIXED.map((m, i) => ({ id: `m${i}`, text: m.text, author: `U${i}`, likes: m.likes }));
const mixedPredictions = (withIds = true) => MIXED.map((m, i) => ({
  sentiment: m.s, label: LABEL[m.s], confidence: m.conf, language: m.lang, language_supported: m.supported ?? true,
  ...(withIds ? { prediction_id: `00000000-0000-4000-8000-00000000000${i}` } : {}),
}));
const MIXED_SUMMARY = {
  total: 6, scored: 4, other_languages: 2, languages: { ja: 1, es: 1 }, counts: { '-1': 1, 0: 2, 1: 1 },
  shares: { 1: { share: 0.25, low: 0.0456, high: 0.6994 }, 0: { share: 0.5, low: 0.15, high: 0.85 },
    '-1': { share: 0.25, low: 0.0456, high: 0.6994 } },
  months: [{ month: '2024-03', count: 30, counts: { '-1': 5, 0: 5, 1: 20 }, sparse: false },
    { month: '2024-04', count: 1, counts: { '-1': 0, 0: 1, 1: 0 }, sparse: true }],
};

describe('comments the model is least sure of', () => {
  it('marks scored comments below 55% confidence, never other languages', () => {
    const view = resultsView(MIXED_COMMENTS, { predictions: mixedPredictions(), summary: MIXED_SUMMARY });
    const marked = view.top.filter((r) => r.leastSure).map((r) => r.text);
    // 0.38 and 0.49 are below 0.55; 0.55 is not; the es/ja ones (0.40, 0.35) are not scored at all.
    assert.deepEqual(marked, ['not sure what to think', 'meh']);
    assert.equal(LEAST_SURE_CONFIDENCE, 0.55);
  });

  it('lists the least sure ones outside the top list, least sure first, at most LEAST_SURE_N', () => {
    const n = TOP_N + 10;
    const comments = Array.from({ length: n }, (_, i) => ({ id: `c${i}`, text: `t${i}`, author: 'U', likes: n - i }));
    // Comments 25..34 fall outside the top 25 (fewest likes); their confidences 0.30, 0.31, ... 0.39, plus
    // comment 30 at 0.2 and comment 33 at 0.9 (sure) and comment 3 (in the top list) at 0.1.
    const conf = (i) => ({ 3: 0.1, 30: 0.2, 33: 0.9 })[i] ?? (i >= TOP_N ? 0.3 + (i - TOP_N) / 100 : 0.95);
    const predictions = comments.map((_, i) => ({ sentiment: 0, label: 'neutral', confidence: conf(i),
      prediction_id: `p${i}` }));
    const view = resultsView(comments, { predictions, summary: SUMMARY });
    assert.deepEqual(view.leastSure.map((r) => r.id), ['c30', 'c25', 'c26', 'c27', 'c28']);
    assert.equal(view.leastSure.length, LEAST_SURE_N);
    assert.ok(view.top.find((r) => r.id === 'c3').leastSure, 'marked in the top list, not listed twice');
  });
});

describe('languages the model does not score', () => {
  it('says how many comments in which languages were not scored', () => {
    assert.equal(otherLanguagesMessage(MIXED_SUMMARY),
      '2 comments in other languages were not scored (es 1, ja 1). They are left out of the counts, averages, '
      + 'charts and word cloud.');
    assert.match(otherLanguagesMessage({ other_languages: 1, languages: { und: 1 } }),
      /^1 comment in another language was not scored \(undetermined 1\)\./);
    assert.match(otherLanguagesMessage({ other_languages: 7, languages: { ru: 2, es: 5 } }), /\(es 5, ru 2\)/);
    for (const none of [{ other_languages: 0 }, {}, { other_languages: 'x' }, null]) {
      assert.equal(otherLanguagesMessage(none), null);
    }
  });

  it('shows the scored count and refuses corrections of unscored comments', () => {
    const view = resultsView(MIXED_COMMENTS, { predictions: mixedPredictions(), summary: MIXED_SUMMARY });
    assert.equal(view.total, 6);
    assert.equal(view.scored, 4);
    assert.match(view.otherLanguages, /^2 comments in other languages/);
    const spanish = view.top.find((r) => r.text.startsWith('me encanta'));
    assert.equal(spanish.scored, false);
    assert.deepEqual(spanish.feedback, { enabled: false, reason: 'Not scored: this comment is in another language (es).' });
    assert.deepEqual(view.top.find((r) => r.text === 'love it').feedback, { enabled: true, reason: null });
  });

  it('falls back to total - other_languages, and to total for an older API', () => {
    const preds = mixedPredictions();
    assert.equal(resultsView(MIXED_COMMENTS, { predictions: preds,
      summary: { ...MIXED_SUMMARY, scored: undefined } }).scored, 4);
    assert.equal(resultsView(COMMENTS, { predictions: PREDICTIONS, summary: SUMMARY }).scored, 4);
  });
});

describe('corrections', () => {
  it('are unavailable, with the reason, when the API sends no prediction ids', () => {
    const view = resultsView(MIXED_COMMENTS, { predictions: mixedPredictions(false), summary: MIXED_SUMMARY });
    const english = view.top.find((r) => r.text === 'love it');
    assert.equal(english.feedback.enabled, false);
    assert.match(english.feedback.reason, /sends no prediction ids/);
    assert.deepEqual(feedbackAvailability({ sentiment: 1, prediction_id: 'abc' }), { enabled: true, reason: null });
  });
});

describe('honest figures', () => {
  it('lists every month with its count and marks sparse ones', () => {
    assert.deepEqual(monthsView(MIXED_SUMMARY.months), [
      { month: '2024-03', count: 30, sparse: false, text: '2024-03: 30 comments' },
      { month: '2024-04', count: 1, sparse: true, text: '2024-04: 1 comment (too few to read)' },
    ]);
    assert.deepEqual(monthsView(undefined), []);
    assert.deepEqual(monthsView([{ month: '2024-01' }, null]), [], 'malformed months are dropped');
  });

  it('puts each class share and its 95% interval into words', () => {
    const texts = shareTexts(MIXED_SUMMARY);
    assert.equal(texts[1], 'positive: 25% of 4 scored comments; 95% interval 5%–70% '
      + '(how far the share could be off, given this few comments)');
    assert.match(texts[0], /^neutral: 50% of 4 scored comments; 95% interval 15%–85%/);
    assert.match(texts[-1], /^negative: 25%/);
    assert.deepEqual(shareTexts(SUMMARY), {}, 'nothing for an older API');
    assert.equal(formatPercent(0.004), '0.4%');
    assert.equal(formatPercent(0), '0%');
    assert.equal(formatPercent(1), '100%');
  });
});

describe('whyView', () => {
  const term = (t, weight) => ({ term: t, weight });

  it('says the terms in the API order, features in words, weights to 2 decimals', () => {
    const view = whyView({ sentiment: 1, label: 'positive', language_supported: true,
      why: [term('amazing', 1.234), term('lexicon', 0.5), term('thank you', 0.104)] });
    assert.equal(view.text, 'Pushed toward positive by “amazing” (+1.23), its words’ sentiment-lexicon scores (+0.50), '
      + '“thank you” (+0.10).');
    assert.deepEqual(view.terms.map((t) => [t.term, t.feature]), [['amazing', false], ['lexicon', true], ['thank you', false]]);
  });

  it('keeps at most 3 well-formed terms; an empty why says so', () => {
    const view = whyView({ sentiment: -1, why: [term('', 1), term('bad', -1), term('x', Number.NaN), { term: 3, weight: 1 },
      null, term('a', 4), term('b', 3), term('c', 2), term('d', 1)] });
    assert.deepEqual(view.terms.map((t) => t.term), ['a', 'b', 'c']);
    assert.equal(whyView({ sentiment: 0, why: [] }).text, 'Nothing in particular pushed it toward neutral.');
  });

  it('is null without a why, or for a comment the model does not read', () => {
    assert.equal(whyView({ sentiment: 1 }), null);
    assert.equal(whyView({ sentiment: 1, why: null }), null);
    assert.equal(whyView({ sentiment: 0, language_supported: false, why: [term('hola', 1)] }), null);
  });

  it('reaches each row of the results view', () => {
    const predictions = PREDICTIONS.map((p, i) => ({ ...p, why: i === 1 ? [term('hate', 2)] : [] }));
    const view = resultsView(COMMENTS, { predictions, summary: SUMMARY });
    assert.equal(view.top[0].why.text, 'Pushed toward negative by “hate” (+2.00).');
  });
});

describe('highlightSegments', () => {
  const words = (...ts) => ts.map((t) => ({ term: t, weight: 1, feature: t === 'lexicon' }));
  const marked = (segments) => segments.filter((s) => s.term).map((s) => s.text);

  it('marks whole-word occurrences, ignoring case, and keeps the text intact', () => {
    const text = 'I LOVE it, love-ly... Loved it? "love" glove wit';
    const segments = highlightSegments(text, words('love', 'it'));
    assert.equal(segments.map((s) => s.text).join(''), text);
    assert.deepEqual(marked(segments), ['LOVE', 'it', 'love', 'it', 'love']);
  });

  it('prefers the longer of overlapping terms and never marks features', () => {
    assert.deepEqual(marked(highlightSegments('not good, good', words('good', 'not good', 'lexicon'))), ['not good', 'good']);
    assert.deepEqual(marked(highlightSegments('love it', words('love', 'love it'))), ['love it']);
    assert.deepEqual(marked(highlightSegments('the lexicon', words('lexicon'))), []);
  });

  it('reads a term as text, regular-expression characters and markup included', () => {
    const text = "<script>alert('xss')</script> (a+b)* $5";
    assert.deepEqual(marked(highlightSegments(text, words("<script>alert('xss')</script>", '(a+b)*', '$5'))),
      ["<script>alert('xss')</script>", '(a+b)*', '$5']);
    assert.deepEqual(highlightSegments('', words('a')), []);
    assert.deepEqual(highlightSegments('abc', []), [{ text: 'abc', term: false }]);
  });
});
