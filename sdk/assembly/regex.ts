// Regular expressions in the RE2 (Go regexp) syntax Higress plugin configs use, matched in
// linear time: the pattern compiles to a small NFA program run by a Pike VM (Thompson's
// construction with capture slots), so no pattern — however hostile — can backtrack
// exponentially. Time is O(pattern × text); memory O(pattern).
//
// Supported: literals and escapes (\. \\ \n \t \r \f \v \xHH \x{H..}), `.`, classes `[a-z_]`,
// `[^...]`, `\d \w \s \D \W \S` (also inside classes), anchors `^ $ \A \z \b \B`, groups `(...)`,
// `(?:...)`, named `(?P<name>...)` / `(?<name>...)`, alternation `|`, repetition `* + ? {m}
// {m,} {m,n}` and their lazy forms, flags `(?i) (?m) (?s)` and `(?i:...)`. Case folding is
// ASCII-only. Matching works on UTF-16 code units (a character outside the BMP is two units).
// Not supported (compile error): backreferences and look-around (RE2 has none either),
// Unicode classes `\p{..}`, POSIX `[[:alpha:]]`.
import { decimal } from "./decimal";

// ---- program ------------------------------------------------------------------------------

const OP_CHAR: u8 = 0;    // a = code unit
const OP_ANY: u8 = 1;     // any code unit but \n
const OP_ANYNL: u8 = 2;   // any code unit
const OP_CLASS: u8 = 3;   // a = class index
const OP_SPLIT: u8 = 4;   // try a first, then b
const OP_JMP: u8 = 5;     // a
const OP_SAVE: u8 = 6;    // a = slot
const OP_ASSERT: u8 = 7;  // a = assertion kind
const OP_MATCH: u8 = 8;

const AS_BEGIN_TEXT = 0;
const AS_END_TEXT = 1;
const AS_BEGIN_LINE = 2;
const AS_END_LINE = 3;
const AS_WORD = 4;
const AS_NOT_WORD = 5;

/** Most instructions a pattern may compile to (counted repetition expands: `x{1000}`...). */
const MAX_PROGRAM = 20000;

let compileError: string | null = null;

/** Why the last {@link Regex.compile} returned null. */
export function regexError(): string {
  const e = compileError;
  return e === null ? "" : e;
}

// ---- syntax tree ----------------------------------------------------------------------------

const N_EMPTY: u8 = 0;
const N_CHAR: u8 = 1;
const N_ANY: u8 = 2;
const N_CLASS: u8 = 3;
const N_CAT: u8 = 4;
const N_ALT: u8 = 5;
const N_REPEAT: u8 = 6;
const N_GROUP: u8 = 7;
const N_ASSERT: u8 = 8;

class Node {
  kids: Array<Node> = new Array<Node>();
  /** N_CHAR: code unit; N_CLASS: class index; N_GROUP: capture index or -1; N_ASSERT: kind; N_ANY: 1 = matches \n; N_REPEAT: min. */
  a: i32 = 0;
  /** N_REPEAT: max (-1 = unbounded). */
  b: i32 = 0;
  /** N_REPEAT: greedy. */
  greedy: bool = true;
  constructor(public kind: u8) {}
}

function node(kind: u8, a: i32 = 0): Node {
  const n = new Node(kind);
  n.a = a;
  return n;
}

@inline function isWordChar(c: i32): bool {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f;
}

class Parser {
  pos: i32 = 0;
  caps: i32 = 1;
  names: Array<string> = new Array<string>();
  classes: Array<Array<i32>> = new Array<Array<i32>>();
  icase: bool = false;
  multiline: bool = false;
  dotall: bool = false;
  constructor(public s: string) {}

  @inline peek(): i32 { return this.pos < this.s.length ? this.s.charCodeAt(this.pos) : -1; }
  fail(why: string): Node | null {
    if (compileError === null) compileError = "bad regex at offset " + decimal(this.pos) + ": " + why;
    return null;
  }

  alternation(): Node | null {
    const first = this.concatenation();
    if (first === null) return null;
    if (this.peek() != 0x7c) return first;
    const alt = node(N_ALT);
    alt.kids.push(first);
    while (this.peek() == 0x7c) {
      this.pos++;
      const next = this.concatenation();
      if (next === null) return null;
      alt.kids.push(next);
    }
    return alt;
  }

  concatenation(): Node | null {
    const cat = node(N_CAT);
    for (;;) {
      const c = this.peek();
      if (c < 0 || c == 0x7c || c == 0x29) break;
      const atom = this.repetition();
      if (atom === null) { if (compileError !== null) return null; continue; }
      cat.kids.push(atom);
    }
    return cat;
  }

  repetition(): Node | null {
    let atom = this.atom();
    if (atom === null) return null;
    let repeated = false;
    for (;;) {
      const c = this.peek();
      let min = 0;
      let max = -1;
      if (c == 0x2a) { this.pos++; }
      else if (c == 0x2b) { this.pos++; min = 1; }
      else if (c == 0x3f) { this.pos++; max = 1; }
      else if (c == 0x7b) {
        const save = this.pos;
        this.pos++;
        min = this.int();
        if (min < 0) { this.pos = save; return atom; } // a literal "{"... is not valid RE2 either
        max = min;
        if (this.peek() == 0x2c) {
          this.pos++;
          max = this.peek() == 0x7d ? -1 : this.int();
          if (max == -2) return this.fail("bad repetition count");
        }
        if (this.peek() != 0x7d) return this.fail("missing } in repetition");
        this.pos++;
        if (min > 1000 || max > 1000) return this.fail("repetition count above 1000");
        if (max >= 0 && max < min) return this.fail("bad repetition range");
      } else return atom;
      if (atom.kind == N_ASSERT || atom.kind == N_EMPTY) return this.fail("missing argument to repetition operator");
      if (repeated) return this.fail("bad repetition operator"); // RE2 rejects a** and a+*
      repeated = true;
      const r = node(N_REPEAT, min);
      r.b = max;
      r.kids.push(atom);
      if (this.peek() == 0x3f) { this.pos++; r.greedy = false; }
      atom = r;
    }
    return atom;
  }

  /** Decimal integer at pos; -1 when there is none (-2 for a malformed one). */
  int(): i32 {
    let n = 0;
    const start = this.pos;
    let c: i32;
    while ((c = this.peek()) >= 0x30 && c <= 0x39) { if (n < 100000) n = n * 10 + (c - 0x30); this.pos++; }
    return this.pos == start ? -1 : n;
  }

  atom(): Node | null {
    const c = this.peek();
    if (c == 0x28) return this.group();
    this.pos++;
    if (c == 0x2e) return node(N_ANY, this.dotall ? 1 : 0);
    if (c == 0x5e) return node(N_ASSERT, this.multiline ? AS_BEGIN_LINE : AS_BEGIN_TEXT);
    if (c == 0x24) return node(N_ASSERT, this.multiline ? AS_END_LINE : AS_END_TEXT);
    if (c == 0x5b) return this.klass();
    if (c == 0x5c) return this.escape();
    if (c == 0x2a || c == 0x2b || c == 0x3f) { this.pos--; return this.fail("missing argument to repetition operator"); }
    return this.literal(c);
  }

  literal(c: i32): Node {
    if (this.icase) {
      const lower = c | 0x20;
      if (lower >= 0x61 && lower <= 0x7a) {
        const ranges = new Array<i32>();
        ranges.push(lower); ranges.push(lower);
        ranges.push(lower - 0x20); ranges.push(lower - 0x20);
        return this.addClass(ranges, false);
      }
    }
    return node(N_CHAR, c);
  }

  addClass(ranges: Array<i32>, negate: bool): Node {
    // Negated classes store a leading marker pair (-1, -1).
    if (negate) { ranges.unshift(-1); ranges.unshift(-1); }
    this.classes.push(ranges);
    return node(N_CLASS, this.classes.length - 1);
  }

  group(): Node | null {
    this.pos++; // (
    let cap = -1;
    const saveFlags = (this.icase ? 1 : 0) | (this.multiline ? 2 : 0) | (this.dotall ? 4 : 0);
    if (this.peek() == 0x3f) {
      this.pos++;
      let c = this.peek();
      if (c == 0x50 || c == 0x3c) { // (?P<name>...) or (?<name>...)
        if (c == 0x50) { this.pos++; if (this.peek() != 0x3c) return this.fail("bad named group"); }
        this.pos++;
        const end = this.s.indexOf(">", this.pos);
        if (end < 0) return this.fail("bad named group");
        while (this.names.length < this.caps) this.names.push("");
        this.names.push(this.s.substring(this.pos, end));
        this.pos = end + 1;
        cap = this.caps++;
      } else {
        // flags: (?ims) for the rest of the enclosing group, (?ims:...) for this group only
        let on = true;
        for (;;) {
          c = this.peek();
          this.pos++;
          if (c == 0x69) this.icase = on;
          else if (c == 0x6d) this.multiline = on;
          else if (c == 0x73) this.dotall = on;
          else if (c == 0x2d && on) on = false;
          else if (c == 0x29) return node(N_EMPTY); // flags stay set
          else if (c == 0x3a) break;
          else { this.pos--; return this.fail(c == 0x3d || c == 0x21 ? "look-around is not supported (RE2 syntax)" : "bad group flags"); }
        }
      }
    } else {
      cap = this.caps++;
    }
    const inner = this.alternation();
    if (inner === null) return null;
    if (this.peek() != 0x29) return this.fail("missing )");
    this.pos++;
    this.icase = (saveFlags & 1) != 0;
    this.multiline = (saveFlags & 2) != 0;
    this.dotall = (saveFlags & 4) != 0;
    const g = node(N_GROUP, cap);
    g.kids.push(inner);
    return g;
  }

  /** Appends the ranges of \d \w \s (negated forms complement them) for escape letter `e`; false if `e` is not one. */
  perlClass(e: i32, ranges: Array<i32>): bool {
    const lower = e | 0x20;
    const base = new Array<i32>();
    if (lower == 0x64) { base.push(0x30); base.push(0x39); }
    else if (lower == 0x77) { base.push(0x30); base.push(0x39); base.push(0x41); base.push(0x5a); base.push(0x5f); base.push(0x5f); base.push(0x61); base.push(0x7a); }
    else if (lower == 0x73) { base.push(0x09); base.push(0x0a); base.push(0x0c); base.push(0x0d); base.push(0x20); base.push(0x20); }
    else return false;
    if (e == lower) { for (let i = 0; i < base.length; i++) ranges.push(base[i]); return true; }
    // complement of the sorted ranges over 0..0xffff
    let next = 0;
    for (let i = 0; i < base.length; i += 2) {
      if (base[i] > next) { ranges.push(next); ranges.push(base[i] - 1); }
      next = base[i + 1] + 1;
    }
    ranges.push(next); ranges.push(0xffff);
    return true;
  }

  /** An escaped literal code unit (after the backslash), or -1 with an error. */
  escapedChar(e: i32): i32 {
    if (e == 0x6e) return 0x0a;
    if (e == 0x74) return 0x09;
    if (e == 0x72) return 0x0d;
    if (e == 0x66) return 0x0c;
    if (e == 0x76) return 0x0b;
    if (e == 0x61) return 0x07;
    if (e == 0x30) return 0;
    if (e == 0x78) {
      let v = 0;
      if (this.peek() == 0x7b) {
        const end = this.s.indexOf("}", this.pos);
        if (end < 0) { this.fail("bad \\x escape"); return -1; }
        v = hexValue(this.s.substring(this.pos + 1, end));
        this.pos = end + 1;
      } else {
        v = hexValue(this.s.substr(this.pos, 2));
        this.pos += 2;
      }
      if (v < 0 || v > 0xffff) { this.fail("bad \\x escape"); return -1; }
      return v;
    }
    if (e >= 0 && e < 0x80 && !isWordChar(e)) return e; // escaped punctuation
    this.fail(e == 0x70 || e == 0x50 ? "Unicode classes are not supported" : e >= 0x31 && e <= 0x39 ? "backreferences are not supported (RE2 syntax)" : "bad escape");
    return -1;
  }

  escape(): Node | null {
    const e = this.peek();
    this.pos++;
    if (e == 0x62) return node(N_ASSERT, AS_WORD);
    if (e == 0x42) return node(N_ASSERT, AS_NOT_WORD);
    if (e == 0x41) return node(N_ASSERT, AS_BEGIN_TEXT);
    if (e == 0x7a) return node(N_ASSERT, AS_END_TEXT);
    const ranges = new Array<i32>();
    if (this.perlClass(e, ranges)) return this.addClass(ranges, false);
    if (e == 0x51) { // \Q...\E literal text
      const end = this.s.indexOf("\\E", this.pos);
      const stop = end < 0 ? this.s.length : end;
      const cat = node(N_CAT);
      for (let i = this.pos; i < stop; i++) cat.kids.push(this.literal(this.s.charCodeAt(i)));
      this.pos = end < 0 ? stop : stop + 2;
      return cat;
    }
    const c = this.escapedChar(e);
    return c < 0 ? null : this.literal(c);
  }

  klass(): Node | null {
    const ranges = new Array<i32>();
    let negate = false;
    if (this.peek() == 0x5e) { negate = true; this.pos++; }
    let first = true;
    for (;;) {
      let c = this.peek();
      if (c < 0) return this.fail("missing ] in class");
      if (c == 0x5d && !first) { this.pos++; break; }
      first = false;
      if (c == 0x5b && this.pos + 1 < this.s.length && this.s.charCodeAt(this.pos + 1) == 0x3a) return this.fail("POSIX classes are not supported");
      this.pos++;
      if (c == 0x5c) {
        const e = this.peek();
        this.pos++;
        if (this.perlClass(e, ranges)) continue;
        c = this.escapedChar(e);
        if (c < 0) return null;
      }
      let hi = c;
      if (this.peek() == 0x2d && this.pos + 1 < this.s.length && this.s.charCodeAt(this.pos + 1) != 0x5d) {
        this.pos++;
        hi = this.peek();
        this.pos++;
        if (hi == 0x5c) {
          hi = this.escapedChar(this.peek());
          this.pos++;
          if (hi < 0) return null;
        }
        if (hi < c) return this.fail("bad class range");
      }
      ranges.push(c);
      ranges.push(hi);
      if (this.icase) {
        // add the other case of the ASCII letters inside [c, hi]
        for (let x = max(c, 0x41); x <= min(hi, 0x5a); x++) { ranges.push(x + 0x20); ranges.push(x + 0x20); }
        for (let x = max(c, 0x61); x <= min(hi, 0x7a); x++) { ranges.push(x - 0x20); ranges.push(x - 0x20); }
      }
    }
    return this.addClass(ranges, negate);
  }
}

function hexValue(h: string): i32 {
  if (h.length == 0 || h.length > 6) return -1;
  let v = 0;
  for (let i = 0; i < h.length; i++) {
    const c = h.charCodeAt(i);
    let d = -1;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66) d = (c | 0x20) - 0x57;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

// ---- compiler -------------------------------------------------------------------------------

class Program {
  op: Array<u8> = new Array<u8>();
  a: Array<i32> = new Array<i32>();
  b: Array<i32> = new Array<i32>();
  tooBig: bool = false;

  emit(op: u8, a: i32 = 0, b: i32 = 0): i32 {
    if (this.op.length >= MAX_PROGRAM) { this.tooBig = true; return this.op.length - 1; }
    this.op.push(op);
    this.a.push(a);
    this.b.push(b);
    return this.op.length - 1;
  }
  get pc(): i32 { return this.op.length; }

  gen(n: Node): void {
    if (this.tooBig) return;
    switch (n.kind) {
      case N_EMPTY: return;
      case N_CHAR: this.emit(OP_CHAR, n.a); return;
      case N_ANY: this.emit(n.a ? OP_ANYNL : OP_ANY); return;
      case N_CLASS: this.emit(OP_CLASS, n.a); return;
      case N_ASSERT: this.emit(OP_ASSERT, n.a); return;
      case N_CAT: for (let i = 0; i < n.kids.length; i++) this.gen(n.kids[i]); return;
      case N_GROUP: {
        if (n.a < 0) { this.gen(n.kids[0]); return; }
        this.emit(OP_SAVE, n.a * 2);
        this.gen(n.kids[0]);
        this.emit(OP_SAVE, n.a * 2 + 1);
        return;
      }
      case N_ALT: {
        // SPLIT L1, next; L1: kid0; JMP end; next: SPLIT L2, next2 ...
        const jumps = new Array<i32>();
        for (let i = 0; i < n.kids.length; i++) {
          if (i < n.kids.length - 1) {
            const split = this.emit(OP_SPLIT, 0, 0);
            this.a[split] = this.pc;
            this.gen(n.kids[i]);
            jumps.push(this.emit(OP_JMP));
            this.b[split] = this.pc;
          } else this.gen(n.kids[i]);
        }
        for (let i = 0; i < jumps.length; i++) this.a[jumps[i]] = this.pc;
        return;
      }
      default: this.repeat(n);
    }
  }

  /** x{min,max}: min copies, then (max-min) nested optional copies, or a star when unbounded. */
  repeat(n: Node): void {
    const x = n.kids[0];
    for (let i = 0; i < n.a; i++) this.gen(x);
    if (n.b < 0) {
      // L1: SPLIT L2, L3; L2: x; JMP L1; L3:
      const split = this.emit(OP_SPLIT);
      this.gen(x);
      this.emit(OP_JMP, split);
      this.setSplit(split, split + 1, this.pc, n.greedy);
      return;
    }
    const splits = new Array<i32>();
    for (let i = n.a; i < n.b; i++) {
      splits.push(this.emit(OP_SPLIT));
      this.gen(x);
    }
    for (let i = 0; i < splits.length; i++) this.setSplit(splits[i], splits[i] + 1, this.pc, n.greedy);
  }

  setSplit(at: i32, body: i32, skip: i32, greedy: bool): void {
    if (at >= this.a.length) return;
    this.a[at] = greedy ? body : skip;
    this.b[at] = greedy ? skip : body;
  }
}

// ---- matcher --------------------------------------------------------------------------------

/** A compiled regular expression. Compile once (at configuration time), match per request. */
export class Regex {
  private op: StaticArray<u8>;
  private a: StaticArray<i32>;
  private b: StaticArray<i32>;
  private classes: Array<Array<i32>>;
  /** Number of capture groups, not counting the whole match. */
  readonly groups: i32;
  private names: Array<string>;
  private slots: i32;
  /** Set when the pattern starts with `^`/`\A` outside multiline mode: only position 0 can match. */
  private anchored: bool;

  private constructor(p: Parser, prog: Program, anchored: bool) {
    this.op = StaticArray.fromArray<u8>(prog.op);
    this.a = StaticArray.fromArray<i32>(prog.a);
    this.b = StaticArray.fromArray<i32>(prog.b);
    this.classes = p.classes;
    this.groups = p.caps - 1;
    this.names = p.names;
    this.slots = p.caps * 2;
    this.anchored = anchored;
  }

  /** Compiles `pattern`; null (see {@link regexError}) when it is not valid or too large. */
  static compile(pattern: string): Regex | null {
    compileError = null;
    const p = new Parser(pattern);
    const root = p.alternation();
    if (root === null) return null;
    if (p.pos < pattern.length) { p.fail("unexpected )"); return null; }
    const prog = new Program();
    prog.emit(OP_SAVE, 0);
    prog.gen(root);
    prog.emit(OP_SAVE, 1);
    prog.emit(OP_MATCH);
    if (prog.tooBig) { compileError = "bad regex: pattern too large"; return null; }
    let first = root;
    while ((first.kind == N_CAT || first.kind == N_GROUP) && first.kids.length) first = first.kids[0];
    return new Regex(p, prog, first.kind == N_ASSERT && first.a == AS_BEGIN_TEXT);
  }

  /** Index of the group named `name` (`(?P<name>...)`), or -1. */
  groupIndex(name: string): i32 {
    for (let i = 1; i < this.names.length; i++) if (this.names[i] == name) return i;
    return -1;
  }

  /** True when the pattern matches somewhere in `s` (use `^...$` to match all of it). */
  test(s: string): bool { return this.run(s, 0) !== null; }

  /**
   * The first match at or after `from`: slot pairs [start0, end0, start1, end1, ...] (−1 for a
   * group that did not take part), or null. Leftmost, then preferring earlier alternatives and
   * greedy repeats (Go's leftmost-first semantics).
   */
  run(s: string, from: i32): StaticArray<i32> | null {
    const n = this.op.length;
    const slots = this.slots;
    let clist = new ThreadList(n, slots);
    let nlist = new ThreadList(n, slots);
    const scratch = new StaticArray<i32>(slots);
    let matched: StaticArray<i32> | null = null;
    const len = s.length;
    for (let sp = from; sp <= len; sp++) {
      if (matched === null && (!this.anchored || sp == 0)) {
        for (let i = 0; i < slots; i++) scratch[i] = -1;
        this.add(clist, 0, sp, s, scratch);
      }
      if (clist.count == 0) {
        if (matched !== null || this.anchored) break;
        clist.clear(); // nothing alive here: try a fresh start at the next position
        continue;
      }
      const c = sp < len ? <i32>s.charCodeAt(sp) : -1;
      nlist.clear();
      for (let t = 0; t < clist.count; t++) {
        const pc = clist.pc[t];
        const op = this.op[pc];
        if (op == OP_MATCH) {
          // This thread beats every lower-priority one: record it and drop the rest.
          const m = new StaticArray<i32>(slots);
          for (let i = 0; i < slots; i++) m[i] = clist.caps[t * slots + i];
          matched = m;
          break;
        }
        if (c < 0) continue;
        let ok = false;
        if (op == OP_CHAR) ok = c == this.a[pc];
        else if (op == OP_ANY) ok = c != 0x0a;
        else if (op == OP_ANYNL) ok = true;
        else if (op == OP_CLASS) ok = this.inClass(this.a[pc], c);
        if (ok) {
          for (let i = 0; i < slots; i++) scratch[i] = clist.caps[t * slots + i];
          this.add(nlist, pc + 1, sp + 1, s, scratch);
        }
      }
      const tmp = clist; clist = nlist; nlist = tmp;
    }
    return matched;
  }

  private inClass(index: i32, c: i32): bool {
    const r = this.classes[index];
    let i = 0;
    let negate = false;
    if (r.length >= 2 && r[0] == -1) { negate = true; i = 2; }
    for (; i < r.length; i += 2) if (c >= r[i] && c <= r[i + 1]) return !negate;
    return negate;
  }

  private holds(kind: i32, sp: i32, s: string): bool {
    const len = s.length;
    switch (kind) {
      case AS_BEGIN_TEXT: return sp == 0;
      case AS_END_TEXT: return sp == len;
      case AS_BEGIN_LINE: return sp == 0 || s.charCodeAt(sp - 1) == 0x0a;
      case AS_END_LINE: return sp == len || s.charCodeAt(sp) == 0x0a;
      default: {
        const before = sp > 0 && isWordChar(s.charCodeAt(sp - 1));
        const after = sp < len && isWordChar(s.charCodeAt(sp));
        return (before != after) == (kind == AS_WORD);
      }
    }
  }

  /** Follows empty transitions from `pc` at `sp`, adding the threads that consume input to `list`. */
  private add(list: ThreadList, pc: i32, sp: i32, s: string, caps: StaticArray<i32>): void {
    if (list.has(pc)) return;
    list.mark(pc);
    const op = this.op[pc];
    if (op == OP_JMP) { this.add(list, this.a[pc], sp, s, caps); return; }
    if (op == OP_SPLIT) {
      this.add(list, this.a[pc], sp, s, caps);
      this.add(list, this.b[pc], sp, s, caps);
      return;
    }
    if (op == OP_SAVE) {
      const slot = this.a[pc];
      const old = caps[slot];
      caps[slot] = sp;
      this.add(list, pc + 1, sp, s, caps);
      caps[slot] = old;
      return;
    }
    if (op == OP_ASSERT) {
      if (this.holds(this.a[pc], sp, s)) this.add(list, pc + 1, sp, s, caps);
      return;
    }
    list.push(pc, caps);
  }

  /** Text of each group of the first match (index 0 = whole match; "" for a group that did not match), or null. */
  exec(s: string): Array<string> | null {
    const m = this.run(s, 0);
    if (m === null) return null;
    const out = new Array<string>();
    for (let g = 0; g <= this.groups; g++) {
      const a = m[g * 2];
      out.push(a < 0 ? "" : s.substring(a, m[g * 2 + 1]));
    }
    return out;
  }

  /**
   * Replaces every match with `template`, where `$1`, `${1}`, `${name}` insert groups and `$$`
   * a dollar sign (Go's `ReplaceAllString`). An empty match never repeats at the same place.
   */
  replaceAll(s: string, template: string): string {
    // Go's replaceAll loop: an empty match right after a previous match is not replaced, and
    // the search always advances at least one character.
    let out = "";
    let lastEnd = 0;
    let pos = 0;
    const len = s.length;
    while (pos <= len) {
      const m = this.run(s, pos);
      if (m === null) break;
      out += s.substring(lastEnd, m[0]);
      if (m[1] > lastEnd || m[0] == 0) out += this.expand(template, s, m);
      lastEnd = m[1];
      pos = pos + 1 > m[1] ? pos + 1 : m[1];
      if (this.anchored) break;
    }
    return out + s.substring(lastEnd, len);
  }

  /** Replaces the first match only (see {@link replaceAll}). */
  replaceFirst(s: string, template: string): string {
    const m = this.run(s, 0);
    if (m === null) return s;
    return s.substring(0, m[0]) + this.expand(template, s, m) + s.substring(m[1], s.length);
  }

  /** `template` with `$n` / `${n}` / `${name}` / `$$` expanded against match `m` of `s`. */
  expand(template: string, s: string, m: StaticArray<i32>): string {
    let out = "";
    let i = 0;
    const n = template.length;
    while (i < n) {
      const c = template.charCodeAt(i);
      if (c != 0x24 || i + 1 >= n) { out += String.fromCharCode(c); i++; continue; }
      const d = template.charCodeAt(i + 1);
      if (d == 0x24) { out += "$"; i += 2; continue; }
      let name = "";
      if (d == 0x7b) {
        const end = template.indexOf("}", i + 2);
        if (end < 0) { out += "$"; i++; continue; }
        name = template.substring(i + 2, end);
        i = end + 1;
      } else {
        // Go takes the longest run of name characters: "$1x" is the group named "1x".
        let j = i + 1;
        while (j < n && isWordChar(template.charCodeAt(j))) j++;
        if (j == i + 1) { out += "$"; i++; continue; }
        name = template.substring(i + 1, j);
        i = j;
      }
      let g = -1;
      let numeric = name.length > 0;
      for (let k = 0; k < name.length; k++) { const x = name.charCodeAt(k); if (x < 0x30 || x > 0x39) numeric = false; }
      g = numeric ? <i32>parseInt(name, 10) : this.groupIndex(name);
      if (g >= 0 && g <= this.groups && m[g * 2] >= 0) out += s.substring(m[g * 2], m[g * 2 + 1]);
    }
    return out;
  }
}

/** The Pike VM's thread list for one input position: program counters in priority order, each with its capture slots. */
class ThreadList {
  pc: StaticArray<i32>;
  caps: StaticArray<i32>;
  seen: StaticArray<i32>;
  count: i32 = 0;
  generation: i32 = 1;
  constructor(n: i32, public slots: i32) {
    this.pc = new StaticArray<i32>(n);
    this.caps = new StaticArray<i32>(n * slots);
    this.seen = new StaticArray<i32>(n);
  }
  @inline has(pc: i32): bool { return this.seen[pc] == this.generation; }
  @inline mark(pc: i32): void { this.seen[pc] = this.generation; }
  push(pc: i32, caps: StaticArray<i32>): void {
    const t = this.count++;
    this.pc[t] = pc;
    const base = t * this.slots;
    for (let i = 0; i < this.slots; i++) this.caps[base + i] = caps[i];
  }
  clear(): void { this.count = 0; this.generation++; }
}
