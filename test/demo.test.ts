// `npm start` (= `higress-plugin demo`): the curl lines it prints must do what their comments say.
// The test runs each printed line itself (curl's -i/-u/-H/-s/-o/-w flags, and the rate-limit loop),
// so the demo's promises and its behaviour cannot drift apart.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../spec/index.js';

let demo: ChildProcess | undefined;
after(() => { demo?.kill('SIGTERM'); });

/** Starts the demo on free ports; resolves with the "Try:" lines it prints. */
async function startDemo(): Promise<string[]> {
  demo = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin/higress-plugin.js'), 'demo', '--port', '0', '--admin-port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not start:\n${out}`)), 30_000);
    demo!.stderr!.on('data', (c: Buffer) => {
      out += c.toString();
      if (!out.includes('Ctrl-C stops')) return;
      clearTimeout(timer);
      const lines = out.split('\n');
      resolve(lines.slice(lines.indexOf('Try:') + 1).map((l) => l.trim()).filter((l) => l.includes('curl ')));
    });
    demo!.once('exit', (code) => reject(new Error(`demo exited with ${code}:\n${out}`)));
  });
}

interface Curl { url: string; headers: Record<string, string> }

/** Reads the request out of a printed curl command (the flags the demo uses). */
function parseCurl(cmd: string): Curl {
  const words = [...cmd.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
  const c: Curl = { url: '', headers: {} };
  for (let i = words.indexOf('curl') + 1; i < words.length; i++) {
    const w = words[i]!;
    if (w === '-H') { const [k, ...v] = words[++i]!.split(':'); c.headers[k!.trim()] = v.join(':').trim(); }
    else if (w === '-u') c.headers.authorization = `Basic ${Buffer.from(words[++i]!).toString('base64')}`;
    else if (w === '-o' || w === '-w') i++;
    else if (w.startsWith('http')) { c.url = w.replace(/;$/, ''); break; }
  }
  return c;
}

test('npm start prints curl lines whose promised statuses the demo gateway answers', async () => {
  const lines = await startDemo();
  const shows = lines.join('\n');
  for (const what of ['request-block', '401', 'x-mse-consumer', 'x-transformed', '429']) assert.ok(shows.includes(what), `the demo shows ${what}`);
  for (const line of lines) {
    const [cmd, comment = ''] = line.split('  # ');
    if (cmd!.includes('/stats/prometheus')) {
      const text = await (await fetch(parseCurl(cmd!).url)).text();
      assert.match(text, /gateway_requests_total/);
      continue;
    }
    const loop = /^for i in ([\d ]+); do (.*); done$/.exec(cmd!);
    const req = parseCurl(loop ? loop[2]! : cmd!);
    const expected = (comment.match(/\b[1-5]\d\d\b/g) ?? ['200']).map(Number);
    const times = loop ? loop[1]!.trim().split(/\s+/).length : 1;
    const got: number[] = [];
    let body = '';
    for (let i = 0; i < times; i++) {
      const res = await fetch(req.url, { headers: req.headers });
      got.push(res.status);
      body = await res.text();
    }
    assert.deepEqual(got, loop ? expected : [expected[0]], `${line}\n→ ${got.join(' ')}\n${body}`);
    const upstreamSees = /upstream sees ([\w-]+)/.exec(comment);
    if (upstreamSees) assert.ok(body.includes(`"${upstreamSees[1]}"`), `${line}: upstream saw ${upstreamSees[1]}\n${body}`);
  }
});
