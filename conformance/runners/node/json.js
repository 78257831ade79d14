'use strict';
// Strict JSON as docket's conformance suite defines it, without losing what JSON.parse loses:
// duplicate keys are refused, integers stay exact (BigInt), an integer is told from a float
// (2 from 2.0), and every error has the kind the suite expects.

class Fail extends Error {
  constructor(kind, message, pointer = '') {
    super(message);
    this.kind = kind;
    this.pointer = pointer;
  }
}

// A number as written: an integer (exact, BigInt) or a float (a double).
class Num {
  constructor(isFloat, value) {
    this.isFloat = isFloat;
    this.value = value;
  }
  static int(n) {
    return new Num(false, BigInt(n));
  }
}

// An object: members in order, with their keys.
class Obj {
  constructor(entries = []) {
    this.map = new Map(entries);
  }
  has(k) { return this.map.has(k); }
  get(k) { return this.map.get(k); }
  set(k, v) { this.map.set(k, v); return this; }
  delete(k) { return this.map.delete(k); }
  keys() { return [...this.map.keys()]; }
  entries() { return [...this.map.entries()]; }
  get size() { return this.map.size; }
}

const MAX_INT_DIGITS = 4300;
const DECODE_DEPTH = 200;

const DEFAULT_LIMITS = {
  max_bytes: 16 * 1024 * 1024,
  max_depth: 32,
  max_string_length: 1024 * 1024,
  max_keys: 10000,
  max_items: null,
};

function limitsOf(given) {
  const l = { ...DEFAULT_LIMITS, ...(given || {}) };
  l.items = l.max_items !== null && l.max_items !== undefined ? l.max_items : Math.max(Math.floor(l.max_bytes / 16), 1);
  return l;
}

// Value count and depth from the text, strings skipped (before anything is decoded).
function prescan(text, limits) {
  let commas = 0, containers = 0, empty = 0, depth = 0, deepest = 0;
  let last = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      last = '0';
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') continue;
    if (c === '{' || c === '[') { containers++; depth++; if (depth > deepest) deepest = depth; }
    else if (c === '}' || c === ']') {
      if ((c === '}' && last === '{') || (c === ']' && last === '[')) empty++;
      depth--;
    } else if (c === ',') commas++;
    last = c;
  }
  const items = commas + containers - empty;
  if (items > limits.items) throw new Fail('limit', `max_items ${items} exceeds ${limits.items}`);
  if (deepest > Math.max(limits.max_depth, DECODE_DEPTH)) throw new Fail('limit', `max_depth ${deepest} exceeds ${limits.max_depth}`);
}

class Parser {
  constructor(text) {
    this.s = text;
    this.i = 0;
  }
  fail(msg) { throw new Fail('parse', `${msg} at character ${this.i}`); }
  ws() {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.i++;
      else break;
    }
  }
  document() {
    this.ws();
    const v = this.value();
    this.ws();
    if (this.i !== this.s.length) this.fail('extra data');
    return v;
  }
  value() {
    const s = this.s;
    const c = s[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) {
      if (c === '-' && s.startsWith('-Infinity', this.i)) throw new Fail('non-finite-number', '-Infinity is not a JSON number');
      return this.number();
    }
    if (s.startsWith('true', this.i)) { this.i += 4; return true; }
    if (s.startsWith('false', this.i)) { this.i += 5; return false; }
    if (s.startsWith('null', this.i)) { this.i += 4; return null; }
    if (s.startsWith('NaN', this.i)) throw new Fail('non-finite-number', 'NaN is not a JSON number');
    if (s.startsWith('Infinity', this.i)) throw new Fail('non-finite-number', 'Infinity is not a JSON number');
    return this.fail('expecting value');
  }
  object() {
    this.i++;
    const pairs = [];
    this.ws();
    if (this.s[this.i] === '}') { this.i++; return new Obj(); }
    for (;;) {
      if (this.s[this.i] !== '"') this.fail('expecting property name enclosed in double quotes');
      const key = this.string();
      this.ws();
      if (this.s[this.i] !== ':') this.fail("expecting ':' delimiter");
      this.i++;
      this.ws();
      pairs.push([key, this.value()]);
      this.ws();
      const c = this.s[this.i];
      if (c === '}') { this.i++; break; }
      if (c !== ',') this.fail("expecting ',' delimiter");
      this.i++;
      this.ws();
    }
    // Like a pairs hook: duplicates are found when the object is complete.
    const obj = new Obj();
    for (const [k, v] of pairs) {
      if (obj.has(k)) throw new Fail('duplicate-key', `duplicate key ${JSON.stringify(k)}`);
      obj.set(k, v);
    }
    return obj;
  }
  array() {
    this.i++;
    const out = [];
    this.ws();
    if (this.s[this.i] === ']') { this.i++; return out; }
    for (;;) {
      out.push(this.value());
      this.ws();
      const c = this.s[this.i];
      if (c === ']') { this.i++; return out; }
      if (c !== ',') this.fail("expecting ',' delimiter");
      this.i++;
      this.ws();
    }
  }
  string() {
    const s = this.s;
    this.i++;
    let out = '';
    let start = this.i;
    for (;;) {
      if (this.i >= s.length) this.fail('unterminated string');
      const c = s.charCodeAt(this.i);
      if (c === 0x22) { out += s.slice(start, this.i); this.i++; return out; }
      if (c < 0x20) this.fail('invalid control character');
      if (c !== 0x5c) { this.i++; continue; }
      out += s.slice(start, this.i);
      const e = s[this.i + 1];
      const simple = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' }[e];
      if (simple !== undefined) { out += simple; this.i += 2; }
      else if (e === 'u') {
        const hex = s.slice(this.i + 2, this.i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('invalid \\uXXXX escape');
        out += String.fromCharCode(parseInt(hex, 16));
        this.i += 6;
      } else this.fail('invalid escape');
      start = this.i;
    }
  }
  number() {
    const m = /^-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/.exec(this.s.slice(this.i, this.i + 100000));
    if (!m) this.fail('expecting value');
    const text = m[0];
    this.i += text.length;
    if (m[1] !== undefined || m[2] !== undefined) {
      const v = Number(text);
      if (!Number.isFinite(v)) throw new Fail('non-finite-number', `${text} is not a finite number`);
      return new Num(true, v);
    }
    const digits = text.replace('-', '').length;
    if (digits > MAX_INT_DIGITS) throw new Fail('parse', `integer of ${digits} digits`);
    return new Num(false, BigInt(text));
  }
}

function codePoints(str) {
  let n = 0;
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length) {
      const d = str.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

const LONE = /[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])[\udc00-\udfff]/;

function checkText(str, limits) {
  if (codePoints(str) > limits.max_string_length) throw new Fail('limit', 'max_string_length exceeded');
  if (LONE.test(str)) throw new Fail('parse', 'lone surrogate');
}

// The limits walk, depth first, in document order.
function checkLimits(root, limits) {
  let items = 0;
  const walk = (node, depth) => {
    if (depth > limits.max_depth) throw new Fail('limit', `max_depth ${depth} exceeds ${limits.max_depth}`);
    if (node instanceof Obj) {
      if (node.size > limits.max_keys) throw new Fail('limit', 'max_keys exceeded');
      for (const k of node.keys()) checkText(k, limits);
    }
    const children = node instanceof Obj ? node.entries().map(([, v]) => v) : node;
    for (const child of children) {
      items++;
      if (items > limits.items) throw new Fail('limit', 'max_items exceeded');
      if (child instanceof Obj || Array.isArray(child)) walk(child, depth + 1);
      else if (typeof child === 'string') checkText(child, limits);
    }
  };
  walk(root, 1);
}

const DECODER = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// Bytes to a checked object tree; throws Fail.
function parseBytes(bytes, givenLimits) {
  const limits = limitsOf(givenLimits);
  if (bytes.length > limits.max_bytes) throw new Fail('limit', `max_bytes ${bytes.length} exceeds ${limits.max_bytes}`);
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) throw new Fail('parse', 'byte order mark');
  let text;
  try {
    text = DECODER.decode(bytes);
  } catch (err) {
    throw new Fail('parse', 'invalid UTF-8');
  }
  let openers = 0, commas = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{' || c === '[') openers++;
    else if (c === ',') commas++;
  }
  if (openers > limits.max_depth || openers + commas > limits.items) prescan(text, limits);
  const value = new Parser(text).document();
  if (!(value instanceof Obj)) throw new Fail('not-an-object', 'the root must be a JSON object');
  checkLimits(value, limits);
  return value;
}

// --- canonical JSON -----------------------------------------------------------------------

function byCodePoint(a, b) {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

// A double as docket writes it: the shortest digits that read back, fixed notation for
// decimal exponents -5..15 (with ".0" when integral), otherwise d[.ddd]e(+|-)N.
function formatFloat(x) {
  if (Object.is(x, -0)) return '-0.0';
  if (x === 0) return '0.0';
  const sign = x < 0 ? '-' : '';
  const [mant, expText] = Math.abs(x).toExponential().split('e');
  const exp = Number(expText);
  const digits = mant.replace('.', '');
  if (exp >= -5 && exp < 16) {
    if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
    const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
    const frac = digits.slice(exp + 1) || '0';
    return `${sign}${intPart}.${frac}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${m}e${exp < 0 ? '-' : '+'}${Math.abs(exp)}`;
}

function canonical(v) {
  if (v === null) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof Num) return v.isFloat ? formatFloat(v.value) : v.value.toString();
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v instanceof Obj) {
    const keys = v.keys().sort(byCodePoint);
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(v.get(k))}`).join(',')}}`;
  }
  throw new Error(`not a JSON value: ${v}`);
}

// --- to and from plain values ---------------------------------------------------------------

const MAX = Number.MAX_VALUE;

// Plain JavaScript values for a JSON Schema validator. An integer beyond a double's range
// becomes the largest double of its sign (still an integer, still beyond every bound a
// docket schema sets); keys such as __proto__ stay own data properties.
function plain(v) {
  if (v instanceof Num) {
    if (v.isFloat) return v.value;
    const n = Number(v.value);
    return Number.isFinite(n) ? n : (n > 0 ? MAX : -MAX);
  }
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Obj) {
    const out = {};
    for (const [k, x] of v.entries()) {
      Object.defineProperty(out, k, { value: plain(x), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return v;
}

// A value from a document (schemas, cases): JSON.parse output to the tree (numbers written
// with a fraction or exponent are not told apart here; version documents hold none).
function fromPlain(v) {
  if (typeof v === 'number') return Number.isInteger(v) && !Object.is(v, -0) ? Num.int(v) : new Num(true, v);
  if (Array.isArray(v)) return v.map(fromPlain);
  if (v !== null && typeof v === 'object') return new Obj(Object.entries(v).map(([k, x]) => [k, fromPlain(x)]));
  return v;
}

function deepCopy(v) {
  if (Array.isArray(v)) return v.map(deepCopy);
  if (v instanceof Obj) return new Obj(v.entries().map(([k, x]) => [k, deepCopy(x)]));
  return v;
}

module.exports = {
  Fail, Num, Obj, parseBytes, canonical, formatFloat, plain, fromPlain, deepCopy, limitsOf, codePoints,
};
