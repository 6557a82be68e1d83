// ESLint flat config for the Chrome extension and its node unit tests.
import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['node_modules/**', '.venv/**', 'artifacts/**'] },
  js.configs.recommended,
  {
    files: ['chrome-extension/**/*.js'],
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: 'module',
      globals: { ...globals.browser, ...globals.webextensions },
    },
    rules: {
      // Comment text must never be parsed as HTML.
      'no-restricted-properties': ['error',
        { property: 'innerHTML', message: 'Use textContent; comment text must never be parsed as HTML.' },
        { property: 'outerHTML', message: 'Use textContent; comment text must never be parsed as HTML.' },
        { property: 'insertAdjacentHTML', message: 'Build elements and set textContent instead.' }],
      'no-restricted-syntax': ['error',
        { selector: "AssignmentExpression[left.property.name='innerHTML']", message: 'Use textContent.' }],
      eqeqeq: 'error',
      'no-var': 'error',
      'prefer-const': 'error',
    },
  },
  {
    files: ['chrome-extension/lib/**/*.js'],
    languageOptions: { globals: { URL: 'readonly', URLSearchParams: 'readonly' } },
    rules: {
      // The pure logic module must not touch the browser: that is what makes it testable in node.
      'no-restricted-globals': ['error', 'chrome', 'document', 'window', 'fetch', 'navigator', 'localStorage'],
    },
  },
  {
    files: ['tests/extension/**/*.mjs', 'eslint.config.mjs'],
    languageOptions: { ecmaVersion: 2024, sourceType: 'module', globals: { ...globals.node } },
  },
];
