#!/usr/bin/env node
// Installs the system packages the test suite runs for real (Debian's OCI registry and htpasswd),
// so `npm test` works on a fresh machine. Needs root (CI and the dev machines run as root);
// otherwise it names the packages to install.
import { spawnSync } from 'node:child_process';

const needed = [
  { bin: 'docker-registry', pkg: 'docker-registry' },
  { bin: 'htpasswd', pkg: 'apache2-utils' },
];
const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
const missing = needed.filter((n) => !has(n.bin)).map((n) => n.pkg);
if (missing.length === 0) process.exit(0);
if (process.getuid?.() !== 0) {
  console.error(`test-deps: missing ${missing.join(', ')}; install them with: sudo apt-get install -y ${missing.join(' ')}`);
  process.exit(1);
}
console.log(`test-deps: installing ${missing.join(', ')} with apt-get`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
const run = (args) => spawnSync('apt-get', args, { stdio: 'inherit', env }).status === 0;
if (!run(['install', '-y', '-qq', ...missing]) && !(run(['update', '-qq']) && run(['install', '-y', '-qq', ...missing]))) {
  console.error(`test-deps: apt-get could not install ${missing.join(', ')}`);
  process.exit(1);
}
