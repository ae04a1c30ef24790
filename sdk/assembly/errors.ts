// Configuration errors. AssemblyScript has no exceptions a plugin can catch, so config parsers
// report the first problem here and the SDK fails `on_configure` with it, naming the rule.

let firstError: string | null = null;

/** Reports a configuration problem (the first one per parse wins); `on_configure` then fails. */
export function configError(message: string): void {
  if (firstError === null) firstError = message;
}

/** True once a problem was reported in the current parse. */
export function hasConfigError(): bool {
  return firstError !== null;
}

/** Returns and clears the reported problem (null when none). */
export function takeConfigError(): string | null {
  const e = firstError;
  firstError = null;
  return e;
}
