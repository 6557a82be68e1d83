/**
 * The one error type the popup and options page show as is: a stable `code` (for tests and styling), a message
 * meant for the user, an optional `action` ('options' -> a link to the options page) and a `detail`.
 */
export class UserFacingError extends Error {
  constructor(code, message, { action = null, detail = '' } = {}) {
    super(message);
    this.name = 'UserFacingError';
    this.code = code;
    this.action = action;
    this.detail = detail;
  }
}
