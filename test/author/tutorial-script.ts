/**
 * Reads docs/tutorial.md as a script, so the tutorial test runs exactly what the reader sees.
 * Fenced blocks are steps, by info string:
 * - ```sh                → commands run one line at a time in the tutorial's shell (`cd` moves it);
 * - ```sh terminal=N     → a long-running command started in "terminal N" (kept running);
 * - ```text expect       → lines the previous command printed (`…` matches anything);
 * - ```text terminal=N   → lines terminal N prints after the previous step (waited for);
 * - ```diff file=PATH    → an edit: the ` ` and `-` lines of PATH become the ` ` and `+` lines.
 * - ```ts file=PATH      → an excerpt the reader is shown: PATH must contain these lines as written.
 * Other blocks (```yaml, ```ts, ```text without a role) are for reading only.
 */
import { readFileSync } from 'node:fs';

export type TutorialStep =
  | { kind: 'commands'; lines: string[]; at: number }
  | { kind: 'background'; terminal: string; command: string; at: number }
  | { kind: 'expect'; lines: string[]; at: number }
  | { kind: 'terminal-output'; terminal: string; lines: string[]; at: number }
  | { kind: 'edit'; file: string; remove: string[]; add: string[]; at: number }
  | { kind: 'excerpt'; file: string; lines: string[]; at: number };

/** Parses the tutorial into its steps, in order. `at` is the block's line number (for messages). */
export function parseTutorial(file: string): TutorialStep[] {
  const text = readFileSync(file, 'utf8');
  const steps: TutorialStep[] = [];
  const re = /^```([^\n]*)\n([\s\S]*?)^```\s*$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const at = text.slice(0, m.index).split('\n').length;
    const [lang, ...attrs] = m[1].trim().split(/\s+/);
    const meta = new Map(attrs.map((a) => { const [k, v] = a.split('='); return [k, v ?? 'true'] as [string, string]; }));
    const body = m[2].replace(/\n$/, '').split('\n');
    if (lang === 'sh' && meta.has('terminal')) {
      const commands = body.filter((l) => l.trim() && !l.trim().startsWith('#'));
      if (commands.length !== 1) throw new Error(`tutorial line ${at}: a terminal block holds exactly one command`);
      steps.push({ kind: 'background', terminal: meta.get('terminal')!, command: commands[0], at });
    } else if (lang === 'sh') {
      steps.push({ kind: 'commands', lines: body.filter((l) => l.trim() && !l.trim().startsWith('#')), at });
    } else if (lang === 'text' && meta.has('expect')) {
      steps.push({ kind: 'expect', lines: body.filter((l) => l.trim()), at });
    } else if (lang === 'text' && meta.has('terminal')) {
      steps.push({ kind: 'terminal-output', terminal: meta.get('terminal')!, lines: body.filter((l) => l.trim()), at });
    } else if (meta.has('file') && lang !== 'diff') {
      steps.push({ kind: 'excerpt', file: meta.get('file')!, lines: body, at });
    } else if (lang === 'diff' && meta.has('file')) {
      steps.push({
        kind: 'edit', file: meta.get('file')!, at,
        remove: body.filter((l) => !l.startsWith('+')).map((l) => l.slice(1)),
        add: body.filter((l) => !l.startsWith('-')).map((l) => l.slice(1)),
      });
    }
  }
  return steps;
}

/** A regex for an expected output line: `…` stands for anything (times, digests), the rest is literal. */
export function lineMatcher(line: string): RegExp {
  const parts = line.trim().split('…').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(parts.join('.*'));
}

/** Lines of `expected` that `output` lacks (empty when all are there). */
export function missingLines(expected: string[], output: string): string[] {
  const outLines = output.replace(/\r/g, '').split('\n');
  return expected.filter((e) => { const re = lineMatcher(e); return !outLines.some((l) => re.test(l)); });
}
