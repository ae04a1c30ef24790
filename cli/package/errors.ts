/** Typed errors of plugin packaging (build, validate, inspect). Codes are stable: `HP_PACKAGE_*`. */

/** One schema violation: where (JSON path), which rule, and the message. */
export interface SchemaIssue {
  /** JSON path of the offending value, e.g. `$.spec.configSchema` or `$._rules_[1].limit`. */
  path: string;
  /** The schema rule that failed, e.g. `required`, `type`, `minimum`. */
  rule: string;
  message: string;
}

/** Base of packaging errors. */
export class PackageError extends Error {
  constructor(readonly code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PackageError';
  }
}

/** A document that does not satisfy its schema; `issues` lists every violation. */
export class SchemaValidationError extends PackageError {
  constructor(readonly file: string, readonly issues: SchemaIssue[], what = 'does not match its schema') {
    super('HP_PACKAGE_SCHEMA', `${file} ${what}:\n${issues.map((i) => `  ${i.path}: ${i.message} [${i.rule}]`).join('\n')}`);
    this.name = 'SchemaValidationError';
  }
}

/** A module that is not a usable proxy-wasm plugin (no ABI marker, unknown imports). */
export class ModuleCheckError extends PackageError {
  constructor(message: string) {
    super('HP_PACKAGE_MODULE', message);
    this.name = 'ModuleCheckError';
  }
}
