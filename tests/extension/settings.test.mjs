// Unit tests of chrome-extension/lib/settings.js (node's built-in test runner: node --test tests/extension/).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  DEFAULT_SETTINGS, MAX_COMMENTS_LIMIT, clientIdFrom, isClientId, originPermissionFor, validateSettings, withDefaults,
} from '../../chrome-extension/lib/settings.js';

describe('settings', () => {
  const good = { apiKey: ' AIzaFakeKeyForTests ', apiBase: 'https://api.example.org/sentiment/', maxComments: 300, // pragma: allowlist secret
    order: 'time', includeReplies: true };

  it('normalises valid settings', () => {
    assert.deepEqual(validateSettings(good), { ok: true, settings: {
      apiKey: 'AIzaFakeKeyForTests', // pragma: allowlist secret
      apiBase: 'https://api.example.org/sentiment', maxComments: 300, order: 'time', includeReplies: true } });
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

describe('anonymous client id', () => {
  const uuid = () => '0b6f7a52-3c1e-4c7a-9f7e-2f0d2a9b8c11';

  it('keeps a stored valid id and makes a new one otherwise', () => {
    assert.deepEqual(clientIdFrom('kept-id_0001', uuid), { clientId: 'kept-id_0001', created: false });
    for (const stored of [undefined, null, '', 'short', 'has space in it', 'x'.repeat(65), 42]) {
      assert.deepEqual(clientIdFrom(stored, uuid), { clientId: uuid(), created: true }, String(stored));
    }
    assert.ok(isClientId(crypto.randomUUID()), 'a real UUID fits the API pattern');
    assert.throws(() => clientIdFrom(undefined, () => 'bad id'), /unusable id/);
  });
});
