#!/usr/bin/env node
// Installs the Debian packages a suite runs for real, so `npm test` and `npm run bench` work on a
// fresh machine: `system-deps.js test` (Debian's OCI registry and htpasswd) or `system-deps.js
// bench` (also wrk, nginx and valgrind). Needs root (CI and the dev machines run as root); otherwise it
// names the packages to install.
import { spawnSync } from 'node:child_process';

const TEST = [
  { bin: 'docker-registry', pkg: 'docker-registry' },
  { bin: 'htpasswd', pkg: 'apache2-utils' },
];
const BENCH = [...TEST, { bin: 'wrk', pkg: 'wrk' }, { bin: 'nginx', pkg: 'nginx' }, { bin: 'valgrind', pkg: 'valgrind' }];
const suite = process.argv[2] ?? 'test';
const needed = suite === 'bench' ? BENCH : TEST;
const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin} || test -x /usr/sbin/${bin}`], { stdio: 'ignore' }).status === 0;
const missing = needed.filter((n) => !has(n.bin)).map((n) => n.pkg);
if (missing.length === 0) process.exit(0);
if (process.getuid?.() !== 0) {
  console.error(`system-deps: missing ${missing.join(', ')}; install them with: sudo apt-get install -y ${missing.join(' ')}`);
  process.exit(1);
}
console.log(`system-deps: installing ${missing.join(', ')} with apt-get`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
const run = (args) => spawnSync('apt-get', args, { stdio: 'inherit', env }).status === 0;
if (!run(['install', '-y', '-qq', ...missing]) && !(run(['update', '-qq']) && run(['install', '-y', '-qq', ...missing]))) {
  console.error(`system-deps: apt-get could not install ${missing.join(', ')}`);
  process.exit(1);
}
