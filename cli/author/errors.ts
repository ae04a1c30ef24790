/**
 * Errors of the plugin author's commands (`init`, `run`, `test`, `manifest`). Each has a stable
 * `code` (printed by the CLI after the message) and keeps the error that caused it as `cause`.
 */

/** Stable codes of {@link AuthorError}. */
export type AuthorErrorCode =
  | 'HP_INIT_TARGET_NOT_EMPTY'
  | 'HP_INIT_BAD_NAME'
  | 'HP_UNKNOWN_TEMPLATE'
  | 'HP_NOT_A_PLUGIN_PROJECT'
  | 'HP_SPEC_INVALID'
  | 'HP_CONFIG_INVALID'
  | 'HP_CONFIG_UNREADABLE'
  | 'HP_BAD_OPTION'
  | 'HP_TESTS_FAILED'
  | 'HP_NO_TESTS'
  | 'HP_PLUGIN_LOAD_FAILED'
  | 'HP_GATEWAY_FAILED';

/** An error a plugin author can act on: the message says what failed, where, and what to do. */
export class AuthorError extends Error {
  readonly code: AuthorErrorCode;
  constructor(code: AuthorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuthorError';
    this.code = code;
  }
}

/** A plugin config that does not satisfy the plugin's schema; `errors` lists each failing JSON path (`$.a[0].b`) and rule. */
export class ConfigValidationError extends AuthorError {
  readonly errors: Array<{ path: string; message: string; rule: string }>;
  constructor(where: string, errors: Array<{ path: string; message: string; rule: string }>) {
    super('HP_CONFIG_INVALID',
      `${where} does not match the plugin's config schema:\n` +
        errors.map((e) => `  ${e.path}: ${e.message} [${e.rule}]`).join('\n'));
    this.name = 'ConfigValidationError';
    this.errors = errors;
  }
}
