/**
 * Module resolve hooks for a plugin project's tests: `higress-plugin` and `higress-plugin/<sub>`
 * resolve to the package running the tests (through its package.json `exports`), so a project
 * made by `higress-plugin init` imports the emulator offline, with no node_modules of its own.
 * Registered by `self-resolve-register.ts`; runs on Node's loader thread.
 */
import type { ResolveHook, InitializeHook } from 'node:module';

let selfUrl = '';

/** Receives the package root's package.json URL from the register call. */
export const initialize: InitializeHook<{ packageJsonUrl: string }> = (data) => {
  selfUrl = data.packageJsonUrl;
};

/** Resolves our package name as a self-reference from inside the package; leaves the rest alone. */
export const resolve: ResolveHook = (specifier, context, nextResolve) => {
  if (selfUrl && (specifier === 'higress-plugin' || specifier.startsWith('higress-plugin/'))) {
    return nextResolve(specifier, { ...context, parentURL: selfUrl });
  }
  return nextResolve(specifier, context);
};
