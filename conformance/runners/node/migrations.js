'use strict';
// The declarative migration operations of docket's version documents (add, remove, rename,
// move, map, convert) and the built-in converters, over the lossless tree of json.js.

const { Num, Obj, fromPlain } = require('./json');

// --- converters --------------------------------------------------------------------------

const NAIVE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?$/;
const AWARE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?(Z|[+-][0-9]{2}:[0-9]{2})$/;

function daysIn(y, m) {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(m) ? 30 : 31;
}

// A calendar date and time of years 1..9999 (what a naive datetime can hold).
function realMoment(y, mo, d, h, mi, s) {
  return y >= 1 && y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 && d <= daysIn(y, mo) && h <= 23 && mi <= 59 && s <= 59;
}

function pad(n, w) {
  return String(n).padStart(w, '0');
}

function naiveToAware(value) {
  if (value === null) return null;
  const m = typeof value === 'string' ? NAIVE.exec(value) : null;
  if (!m) throw new Error(`${JSON.stringify(value)} is not a naive timestamp`);
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  if (!realMoment(y, mo, d, h, mi, s)) throw new Error(`${value} is not a real date and time`);
  return `${value.slice(0, 19)}.${(m[7] || '').padEnd(6, '0')}Z`;
}

// Days since 0001-01-01 (proleptic Gregorian) and back.
function toDays(y, m, d) {
  let n = 0;
  const yy = y - 1;
  n += yy * 365 + Math.floor(yy / 4) - Math.floor(yy / 100) + Math.floor(yy / 400);
  for (let i = 1; i < m; i++) n += daysIn(y, i);
  return n + d - 1;
}

function fromDays(n) {
  let y = 1;
  while (n >= 146097) { n -= 146097; y += 400; } // 400 Gregorian years
  for (;;) {
    const len = daysIn(y, 2) === 29 ? 366 : 365;
    if (n < len) break;
    n -= len;
    y++;
  }
  let m = 1;
  while (n >= daysIn(y, m)) { n -= daysIn(y, m); m++; }
  return [y, m, n + 1];
}

function awareToNaive(value) {
  if (value === null) return null;
  const m = typeof value === 'string' ? AWARE.exec(value) : null;
  if (!m) throw new Error(`${JSON.stringify(value)} is not a timezone-aware timestamp`);
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  if (!realMoment(y, mo, d, h, mi, s)) throw new Error(`${value} is not a real date and time`);
  let offset = 0;
  if (m[8] !== 'Z') {
    const oh = Number(m[8].slice(1, 3));
    const om = Number(m[8].slice(4, 6));
    if (oh > 23 || om > 59) throw new Error(`${value} has an impossible offset`);
    offset = (m[8][0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  let minutes = toDays(y, mo, d) * 1440 + h * 60 + mi - offset;
  if (minutes < 0) throw new Error(`${value} is before year 1`);
  const days = Math.floor(minutes / 1440);
  minutes -= days * 1440;
  const [yy, mm, dd] = fromDays(days);
  if (yy > 9999) throw new Error(`${value} is after year 9999`);
  const frac = (m[7] || '').padEnd(6, '0');
  return `${pad(yy, 4)}-${pad(mm, 2)}-${pad(dd, 2)}T${pad(Math.floor(minutes / 60), 2)}:${pad(minutes % 60, 2)}:${pad(s, 2)}.${frac}`;
}

function toText(value) {
  if (value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (value instanceof Num && !value.isFloat) return value.value.toString();
  throw new Error(`${JSON.stringify(value)} has no text form this implementation knows`);
}

function toInt(value) {
  if (value === null) return null;
  if (value instanceof Num && !value.isFloat) return value;
  if (typeof value === 'string' && /^\s*[-+]?[0-9]+\s*$/.test(value)) return new Num(false, BigInt(value.trim()));
  throw new Error(`${JSON.stringify(value)} is not an integer`);
}

const converters = {
  'naive-utc-to-aware': { fn: naiveToAware, inverse: 'aware-utc-to-naive' },
  'aware-utc-to-naive': { fn: awareToNaive, inverse: 'naive-utc-to-aware' },
  'int-to-string': { fn: toText, inverse: 'string-to-int' },
  'string-to-int': { fn: toInt, inverse: 'int-to-string' },
};

// --- operations --------------------------------------------------------------------------

function inverse(op) {
  switch (op.op) {
    case 'add': return { op: 'remove', section: op.section, field: op.field };
    case 'remove': return { op: 'add', section: op.section, field: op.field, default: op.default === undefined ? null : op.default };
    case 'rename': return { op: 'rename', section: op.section, field: op.to, to: op.field };
    case 'move': return { op: 'move', section: op.to_section ?? null, field: op.to_field ?? op.field, to_section: op.section, to_field: op.field };
    case 'map': return { op: 'map', section: op.section, field: op.field, values: op.values.map(([a, b]) => [b, a]) };
    case 'convert': {
      const conv = converters[op.converter];
      if (!conv || !conv.inverse) throw new Error(`converter ${op.converter} has no inverse`);
      return { op: 'convert', section: op.section, field: op.field, converter: conv.inverse };
    }
    default: throw new Error(`unknown operation ${op.op}`);
  }
}

function kindOf(v) {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'str';
  if (v instanceof Num) return v.isFloat ? 'float' : 'int';
  if (Array.isArray(v)) return 'list';
  return 'dict';
}

function numeric(v) {
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v instanceof Num ? (v.isFloat ? v.value : v.value) : null;
}

// Equality as Python's == on JSON values (1 == 1.0 == True inside containers).
function looseEqual(a, b) {
  const na = numeric(a);
  const nb = numeric(b);
  if (na !== null && nb !== null) {
    if (typeof na === 'bigint' && typeof nb === 'bigint') return na === nb;
    if (typeof na === 'bigint' || typeof nb === 'bigint') {
      const [big, flt] = typeof na === 'bigint' ? [na, nb] : [nb, na];
      return Number.isInteger(flt) && BigInt(flt) === big;
    }
    return na === nb;
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => looseEqual(x, b[i]));
  if (a instanceof Obj && b instanceof Obj) return a.size === b.size && a.keys().every((k) => b.has(k) && looseEqual(a.get(k), b.get(k)));
  return a === b;
}

function holderOf(data, section) {
  if (section === null || section === undefined) return data;
  const inner = data.get(section);
  return inner instanceof Obj ? inner : null;
}

function apply(op, data) {
  const holder = holderOf(data, op.section);
  if (!holder) return;
  switch (op.op) {
    case 'add':
      if (!holder.has(op.field)) holder.set(op.field, fromPlain(op.default));
      break;
    case 'remove':
      holder.delete(op.field);
      break;
    case 'rename':
      if (holder.has(op.field)) {
        const v = holder.get(op.field);
        holder.delete(op.field);
        holder.set(op.to, v);
      }
      break;
    case 'move':
      if (holder.has(op.field)) {
        const v = holder.get(op.field);
        holder.delete(op.field);
        let dst;
        if (op.to_section === null || op.to_section === undefined) dst = data;
        else {
          let existing = data.get(op.to_section);
          if (existing === undefined || existing === null) {
            existing = new Obj();
            data.set(op.to_section, existing);
          }
          dst = existing instanceof Obj ? existing : null;
        }
        if (dst) dst.set(op.to_field ?? op.field, v);
      }
      break;
    case 'map':
      if (holder.has(op.field)) {
        const current = holder.get(op.field);
        for (const [oldRaw, newRaw] of op.values) {
          const old = fromPlain(oldRaw);
          if (kindOf(current) === kindOf(old) && looseEqual(current, old)) {
            holder.set(op.field, fromPlain(newRaw));
            break;
          }
        }
      }
      break;
    case 'convert': {
      if (!holder.has(op.field)) break;
      const conv = converters[op.converter];
      if (!conv) throw new Error(`unknown converter ${op.converter}`);
      try {
        holder.set(op.field, conv.fn(holder.get(op.field)));
      } catch (err) {
        throw new Error(`${op.section}.${op.field}: ${err.message}`);
      }
      break;
    }
    default:
      throw new Error(`unknown operation ${op.op}`);
  }
}

function run(ops, data) {
  for (const op of ops) apply(op, data);
  return data;
}

module.exports = { converters, inverse, run, naiveToAware, awareToNaive };
