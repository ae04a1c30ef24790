#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript compiled to dist/ by `npm install` (the `prepare` script).
import { existsSync } from 'node:fs';
const entry = new URL('../dist/cli/index.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('higress-plugin: the CLI is not built yet; run `npm install` (or `npm run build`) in the higress-plugin folder.');
  process.exit(1);
}
const { main } = await import(entry.href);
await main(process.argv);
