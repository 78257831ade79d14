#!/usr/bin/env node
'use strict';
// A second implementation of docket's container formats, for the conformance suite.
//
//   node runner.js [--schemas DIR]
//
// Speaks the suite's protocol (docs/conformance.md): one JSON command per line on stdin, one
// JSON answer per line on stdout. Claims the levels it implements: validate (strict parsing,
// version detection, JSON Schema 2020-12 with Ajv, digests) and migrate (the declarative
// operations of the version documents, integrity members sealed on the way).

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const readline = require('readline');
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;
const { Fail, Num, Obj, parseBytes, canonical, plain, fromPlain, deepCopy } = require('./json');
const { converters, run: runOps, inverse } = require('./migrations');

const LEVELS = ['validate', 'migrate'];

// --- families ------------------------------------------------------------------------------

function versionKey(scheme, v) {
  return scheme === 'integer' ? [Number(v)] : String(v).split('.').map(Number);
}

function compareKeys(a, b) {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] === undefined ? -1 : a[i];
    const y = b[i] === undefined ? -1 : b[i];
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function loadFamilies(dir) {
  const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: true });
  addFormats(ajv);
  const families = new Map();
  for (const name of fs.readdirSync(dir).sort()) {
    const manifestPath = path.join(dir, name, 'manifest.json');
    if (!fs.existsSync(manifestPath)) continue;
    const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
    const scheme = manifest.version_scheme;
    const versions = [...manifest.versions].sort((a, b) => compareKeys(versionKey(scheme, a), versionKey(scheme, b)));
    const specs = new Map();
    for (const v of versions) {
      const doc = JSON.parse(fs.readFileSync(path.join(dir, name, `${v}.json`), 'utf8'));
      const schema = { ...doc.schema };
      delete schema.$schema;
      specs.set(String(v), { version: v, doc, validate: ajv.compile(schema), integrity: doc.integrity || null });
    }
    families.set(name, { name, scheme, versions, specs });
  }
  return families;
}

// --- reading -----------------------------------------------------------------------------

function wellFormed(scheme, value) {
  if (scheme === 'integer') return value instanceof Num && !value.isFloat && value.value >= 0n;
  return typeof value === 'string' && /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/.test(value);
}

// The version of a parsed container, as in the manifest (a number or a string); throws Fail.
function detect(family, obj) {
  if (!obj.has('version')) throw new Fail('version-missing', 'no version member', '');
  const found = obj.get('version');
  if (!wellFormed(family.scheme, found)) throw new Fail('version-malformed', 'malformed version', '/version');
  const known = family.versions.find((v) => (family.scheme === 'integer' ? BigInt(v) === found.value : v === found));
  if (known !== undefined) return known;
  const newest = family.versions[family.versions.length - 1];
  const key = family.scheme === 'integer' ? null : versionKey('dotted', found);
  const newer = family.scheme === 'integer' ? found.value > BigInt(newest) : compareKeys(key, versionKey('dotted', newest)) > 0;
  throw new Fail(newer ? 'version-too-new' : 'version-unknown', 'unsupported version', '/version');
}

function schemaPointers(spec, obj) {
  if (spec.validate(plain(obj))) return [];
  return [...new Set(spec.validate.errors.map((e) => e.instancePath))].sort();
}

const HEADER = new Set(['version', 'family']);

function digestOf(integrity, obj) {
  const covered = new Obj(obj.entries().filter(([k]) => !HEADER.has(k) && k !== integrity.digest && k !== integrity.signature));
  return 'sha256:' + crypto.createHash('sha256').update(canonical(covered), 'utf8').digest('hex');
}

function seal(integrity, obj) {
  if (integrity.signature) obj.delete(integrity.signature);
  obj.set(integrity.digest, digestOf(integrity, obj));
  return obj;
}

function strip(integrity, obj) {
  obj.delete(integrity.digest);
  if (integrity.signature) obj.delete(integrity.signature);
  return obj;
}

// Parse, detect, validate and check the digest; returns {obj, version} or throws Fail.
function read(family, bytes, limits) {
  const obj = parseBytes(bytes, limits);
  const version = detect(family, obj);
  const spec = family.specs.get(String(version));
  const pointers = schemaPointers(spec, obj);
  if (pointers.length) {
    const err = new Fail('schema', 'not valid against the schema');
    err.pointers = pointers;
    throw err;
  }
  if (spec.integrity) {
    const found = obj.get(spec.integrity.digest);
    if (typeof found !== 'string' || found !== digestOf(spec.integrity, obj)) {
      throw new Fail('digest', 'digest does not match', '/' + spec.integrity.digest);
    }
  }
  return { obj, version, spec };
}

function verdict(family, bytes, limits) {
  try {
    const { obj, version, spec } = read(family, bytes, limits);
    const signed = spec.integrity && spec.integrity.signature && obj.has(spec.integrity.signature);
    return { valid: true, version, signature: signed ? 'unverified' : 'absent' };
  } catch (err) {
    if (!(err instanceof Fail)) throw err;
    return { valid: false, kind: err.kind, pointers: err.pointers || [err.pointer], message: err.message };
  }
}

// --- migrating ---------------------------------------------------------------------------

function edgeOps(family, source, target) {
  // The document of `target` holds the migration from `source`.
  const spec = family.specs.get(String(target));
  const m = spec.doc.migration;
  if (!m || String(m.from) !== String(source)) return null;
  const expand = (ops) => ops.flatMap((op) => (op.op === 'convert'
    ? op.fields.map((f) => ({ op: 'convert', section: op.section ?? null, field: f, converter: op.converter }))
    : [{ ...op, section: op.section ?? null }]));
  const up = expand(m.upgrade || []);
  let down = null;
  let exact = false;
  if (m.downgrade) {
    exact = m.downgrade.kind === 'exact';
    down = m.downgrade.operations === 'inverse' ? up.slice().reverse().map(inverse) : expand(m.downgrade.operations);
  }
  return { up, down, exact };
}

function migrate(family, bytes, target, allowLossy) {
  let read0;
  try {
    read0 = read(family, bytes);
  } catch (err) {
    if (err instanceof Fail) return { refused: 'invalid-input', message: err.message };
    throw err;
  }
  const known = family.versions.find((v) => v === target && typeof v === typeof target);
  if (known === undefined || typeof target === 'boolean') return { refused: 'unknown-version', message: 'no such version' };
  const versions = family.versions.map(String);
  const from = versions.indexOf(String(read0.version));
  const to = versions.indexOf(String(target));
  const steps = [];
  if (to > from) {
    for (let i = from; i < to; i++) steps.push({ src: family.versions[i], dst: family.versions[i + 1], edge: edgeOps(family, family.versions[i], family.versions[i + 1]), up: true });
  } else {
    for (let i = from; i > to; i--) steps.push({ src: family.versions[i], dst: family.versions[i - 1], edge: edgeOps(family, family.versions[i - 1], family.versions[i]), up: false });
  }
  for (const s of steps) {
    if (!s.edge) return { refused: 'no-path', message: `no migration between ${s.src} and ${s.dst}` };
    if (!s.up && !s.edge.down) return { refused: 'no-path', message: `no downgrade from ${s.src}` };
  }
  if (!allowLossy && steps.some((s) => !s.up && !s.edge.exact)) return { refused: 'lossy', message: 'a downgrade on the path is lossy' };
  let data = read0.obj;
  for (const s of steps) {
    const srcInteg = family.specs.get(String(s.src)).integrity;
    const dstInteg = family.specs.get(String(s.dst)).integrity;
    data = deepCopy(data);
    if (srcInteg) strip(srcInteg, data);
    try {
      runOps(s.up ? s.edge.up : s.edge.down, data);
    } catch (err) {
      return { refused: 'failed', message: String(err.message || err) };
    }
    data.set('version', family.scheme === 'integer' ? Num.int(s.dst) : s.dst);
    if (dstInteg) seal(dstInteg, data);
  }
  if (steps.length && schemaPointers(family.specs.get(String(target)), data).length) {
    return { refused: 'failed', message: 'the migrated container is not valid at the target version' };
  }
  return { output: canonical(data) };
}

// --- the protocol --------------------------------------------------------------------------

function inputBytes(input) {
  if (input && typeof input.base64 === 'string') return Buffer.from(input.base64, 'base64');
  if (input && typeof input.text === 'string') return Buffer.from(input.text, 'utf8');
  throw new Error('input needs "text" or "base64"');
}

function answer(families, c) {
  if (!LEVELS.includes(c.level)) return { skipped: `level ${c.level} is not implemented` };
  const family = families.get(c.family);
  if (!family) return { error: `unknown family ${c.family}` };
  if (c.level === 'validate') return { result: verdict(family, inputBytes(c.input), c.limits) };
  return { result: migrate(family, inputBytes(c.input), c.to, Boolean(c.allow_lossy)) };
}

function main() {
  const args = process.argv.slice(2);
  const at = args.indexOf('--schemas');
  const dir = at >= 0 ? args[at + 1] : path.resolve(__dirname, '..', '..', '..', 'schemas');
  const families = loadFamilies(dir);
  const pkg = require('./package.json');
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  const send = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
  rl.on('line', (line) => {
    if (!line.trim()) return;
    let msg;
    try {
      msg = JSON.parse(line);
    } catch (err) {
      send({ error: `not JSON: ${err.message}` });
      return;
    }
    if (msg.cmd === 'start') {
      send({
        ready: true,
        suite: 'docket-conformance',
        protocol: 1,
        implementation: { name: pkg.name, version: pkg.version, language: `javascript (node ${process.version})`, ajv: require('ajv/package.json').version },
        levels: LEVELS,
      });
    } else if (msg.cmd === 'stop') {
      send({ stop: true });
      rl.close();
    } else if (msg.cmd === 'run' && msg.case) {
      try {
        send({ id: msg.case.id, ...answer(families, msg.case) });
      } catch (err) {
        send({ id: msg.case.id, error: String(err && err.stack ? err.stack : err) });
      }
    } else {
      send({ error: `unknown command ${JSON.stringify(msg.cmd)}` });
    }
  });
}

module.exports = { loadFamilies, verdict, migrate, fromPlain };

if (require.main === module) main();
