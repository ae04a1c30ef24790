#!/usr/bin/env node
// Builds everything `npm install` / `npm test` need: the TypeScript (tsc → dist/), then every
// AssemblyScript plugin under examples/ and test/plugins/ (→ <plugin>/build/plugin.wasm).
// A plugin is rebuilt only when its sources or the SDK are newer than its .wasm.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', root], { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.error('build: TypeScript compile failed');
  process.exit(1);
}

const { compilePlugin } = await import(join(root, 'dist/cli/compile.js'));

function newest(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const e of readdirSync(path)) if (e !== 'node_modules' && e !== 'build') max = Math.max(max, newest(join(path, e)));
  return max;
}

const sdkTime = newest(join(root, 'sdk'));
const pluginDirs = [];
for (const parent of ['examples', 'test/plugins']) {
  const base = join(root, parent);
  if (!existsSync(base)) continue;
  for (const name of readdirSync(base).sort()) {
    const dir = join(base, name);
    if (existsSync(join(dir, 'assembly/index.ts'))) pluginDirs.push(dir);
  }
}
let failed = 0;
for (const dir of pluginDirs) {
  const out = join(dir, 'build/plugin.wasm');
  const srcTime = Math.max(sdkTime, newest(join(dir, 'assembly')), newest(join(dir, 'package.json')));
  if (existsSync(out) && statSync(out).mtimeMs >= srcTime) continue;
  try {
    const { ms } = await compilePlugin({ dir });
    console.log(`build: ${dir.slice(root.length + 1)} → build/plugin.wasm (${statSync(out).size} bytes, ${Math.round(ms)} ms)`);
  } catch (err) {
    failed++;
    console.error(`build: ${dir.slice(root.length + 1)} failed:\n${err.message}`);
  }
}
if (failed) process.exit(1);
