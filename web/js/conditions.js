// Conditions and segment rules as data an admin picks, and the rhai the
// engine runs. `readCondition` turns rhai into rows of field → operator →
// value (grouped by all/any, nested one level) and `writeCondition` writes
// them back; a script opens in a builder only if writing what was read gives
// the same text, so nothing hand-written is ever silently rewritten.
// The same holds for the segment shapes: tiers (conditions → label), scores
// (criteria → points, capped) and tag lists (conditions → tags).

// ---- tokens and a small expression parser (the subset the builders write) ----

const PUNCT = ['&&', '||', '==', '!=', '<=', '>=', '+=', '-=', '<', '>', '!', '(', ')', '[', ']', '{', '}', ',', '.', ';', '=', '-'];

function tokens(src) {
  const out = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === '/' && (src[i + 1] === '/' || src[i + 1] === '*')) return null; // comments: hand-written
    if (c === '"') {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== '"') {
        if (src[j] === '\\') {
          const n = src[j + 1];
          const simple = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\' }[n];
          if (simple === undefined) return null;
          s += simple; j += 2;
        } else s += src[j++];
      }
      if (j >= src.length) return null;
      out.push({ k: 'str', v: s });
      i = j + 1;
      continue;
    }
    const num = /^\d[\d_]*(\.\d+)?/.exec(src.slice(i));
    if (num) { out.push({ k: 'num', v: Number(num[0].replace(/_/g, '')), raw: num[0] }); i += num[0].length; continue; }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (id) { out.push({ k: 'id', v: id[0] }); i += id[0].length; continue; }
    const p = PUNCT.find((x) => src.startsWith(x, i));
    if (!p) return null;
    out.push({ k: 'p', v: p });
    i += p.length;
  }
  return out;
}

class Parser {
  constructor(toks) { this.t = toks; this.i = 0; }
  peek(v) { const x = this.t[this.i]; return x && (v === undefined || (x.k === 'p' || x.k === 'id') && x.v === v) ? x : null; }
  take(v) { const x = this.peek(v); if (!x) throw new Error(`expected ${v}`); this.i++; return x; }
  eat(v) { if (this.peek(v)) { this.i++; return true; } return false; }
  done() { return this.i >= this.t.length; }

  or() { const a = [this.and()]; while (this.eat('||')) a.push(this.and()); return a.length > 1 ? { t: 'or', a } : a[0]; }
  and() { const a = [this.not()]; while (this.eat('&&')) a.push(this.not()); return a.length > 1 ? { t: 'and', a } : a[0]; }
  not() { return this.eat('!') ? { t: 'not', e: this.not() } : this.cmp(); }
  cmp() {
    const l = this.unary();
    for (const op of ['==', '!=', '<=', '>=', '<', '>']) if (this.eat(op)) return { t: 'cmp', op, l, r: this.unary() };
    if (this.eat('in')) return { t: 'in', l, r: this.unary() };
    return l;
  }
  unary() {
    if (this.eat('-')) { const x = this.take(); if (x.k !== 'num') throw new Error('number'); return { t: 'lit', v: -x.v, raw: `-${x.raw}` }; }
    return this.postfix();
  }
  postfix() {
    let e = this.primary();
    while (this.eat('.')) {
      const name = this.take();
      if (name.k !== 'id') throw new Error('name');
      if (this.eat('(')) e = { t: 'method', obj: e, name: name.v, args: this.args(')') };
      else if (e.t === 'var' && (e.name === 'record' || e.name === 'segments')) e = { t: 'path', root: e.name, key: name.v };
      else throw new Error('path');
    }
    return e;
  }
  args(close) { const a = []; if (this.eat(close)) return a; do a.push(this.or()); while (this.eat(',')); this.take(close); return a; }
  primary() {
    const x = this.t[this.i++];
    if (!x) throw new Error('end');
    if (x.k === 'num') return { t: 'lit', v: x.v, raw: x.raw };
    if (x.k === 'str') return { t: 'lit', v: x.v };
    if (x.k === 'id') {
      if (x.v === 'true' || x.v === 'false') return { t: 'lit', v: x.v === 'true' };
      if (this.eat('(')) return { t: 'call', name: x.v, args: this.args(')') };
      return { t: 'var', name: x.v };
    }
    if (x.v === '(') {
      if (this.eat(')')) return { t: 'lit', v: null };
      const e = this.or(); this.take(')'); return { t: 'paren', e };
    }
    if (x.v === '[') return { t: 'arr', a: this.args(']') };
    throw new Error(`unexpected ${x.v}`);
  }
}

function parseExpr(src) {
  const toks = tokens(src);
  if (!toks || !toks.length) return null;
  try {
    const p = new Parser(toks);
    const e = p.or();
    return p.done() ? e : null;
  } catch { return null; }
}

// ---- rows: one field, one operator, a value ----

/** Operators by the kind of value a field holds. */
export const OPERATORS = {
  text: ['eq', 'ne', 'contains', 'present', 'empty'],
  choice: ['eq', 'ne', 'in', 'nin', 'present', 'empty'],
  tags: ['has', 'present', 'empty'],
  number: ['ge', 'gt', 'le', 'lt', 'eq', 'ne', 'between', 'present', 'empty'],
  date: ['lt', 'gt', 'within', 'older', 'next', 'present', 'empty'],
  bool: ['yes', 'no'],
  user: ['eq', 'ne', 'present', 'empty'],
};

const field = (e) => (e?.t === 'path' ? `${e.root}.${e.key}` : null);
const lit = (e) => (e?.t === 'lit' ? e.v : undefined);
const intLit = (e) => (e?.t === 'lit' && Number.isInteger(e.v) ? e.v : undefined);
const call1 = (e, name) => (e?.t === 'call' && e.name === name && e.args.length === 1 ? field(e.args[0]) : null);
const CMP = { '==': 'eq', '!=': 'ne', '>': 'gt', '>=': 'ge', '<': 'lt', '<=': 'le' };

/** A row from one expression, or null. */
function rowOf(e) {
  if (e.t === 'cmp') {
    const f = field(e.l);
    const v = lit(e.r);
    if (f && v === true && (e.op === '==' || e.op === '!=')) return { field: f, op: e.op === '==' ? 'yes' : 'no' };
    if (f && v !== undefined && v !== null) return { field: f, op: CMP[e.op], value: v };
    const since = call1(e.l, 'days_since');
    const n = intLit(e.r);
    if (since && n !== undefined && e.op === '<=') return { field: since, op: 'within', value: n };
    if (since && n !== undefined && e.op === '>') return { field: since, op: 'older', value: n };
    return null;
  }
  if (e.t === 'in') {
    const f = field(e.l);
    if (f && e.r.t === 'arr' && e.r.a.length && e.r.a.every((x) => typeof lit(x) === 'string')) return { field: f, op: 'in', value: e.r.a.map(lit) };
    // "x" in coalesce(record.tags, []): a tag list holds x.
    const c = e.r;
    if (typeof lit(e.l) === 'string' && c.t === 'call' && c.name === 'coalesce' && c.args.length === 2 && field(c.args[0]) && c.args[1].t === 'arr' && !c.args[1].a.length) return { field: field(c.args[0]), op: 'has', value: lit(e.l) };
    return null;
  }
  if (e.t === 'not' && e.e.t === 'paren') {
    const r = rowOf(e.e.e);
    return r?.op === 'in' ? { ...r, op: 'nin' } : null;
  }
  if (e.t === 'call') {
    if (call1(e, 'present')) return { field: call1(e, 'present'), op: 'present' };
    if (call1(e, 'is_blank')) return { field: call1(e, 'is_blank'), op: 'empty' };
    return null;
  }
  if (e.t === 'method' && e.name === 'contains' && e.args.length === 1 && typeof lit(e.args[0]) === 'string') {
    const f = call1(e.obj, 'text');
    return f ? { field: f, op: 'contains', value: lit(e.args[0]) } : null;
  }
  if (e.t === 'paren' && e.e.t === 'and' && e.e.a.length === 2) {
    // (F >= a && F <= b) and (days_until(F) >= 0 && days_until(F) <= N): one row each.
    const [a, b] = e.e.a;
    if (a.t === 'cmp' && b.t === 'cmp' && a.op === '>=' && b.op === '<=') {
      const f = field(a.l);
      if (f && f === field(b.l) && typeof lit(a.r) === 'number' && typeof lit(b.r) === 'number') return { field: f, op: 'between', value: lit(a.r), value2: lit(b.r) };
      const u = call1(a.l, 'days_until');
      if (u && u === call1(b.l, 'days_until') && intLit(a.r) === 0 && intLit(b.r) !== undefined) return { field: u, op: 'next', value: intLit(b.r) };
    }
  }
  return null;
}

const quote = (v) => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/** The rhai of one row. */
export function writeRow(r) {
  const f = r.field;
  switch (r.op) {
    case 'yes': return `${f} == true`;
    case 'no': return `${f} != true`;
    case 'eq': return `${f} == ${quote(r.value)}`;
    case 'ne': return `${f} != ${quote(r.value)}`;
    case 'gt': return `${f} > ${quote(r.value)}`;
    case 'ge': return `${f} >= ${quote(r.value)}`;
    case 'lt': return `${f} < ${quote(r.value)}`;
    case 'le': return `${f} <= ${quote(r.value)}`;
    case 'in': return `${f} in [${(r.value || []).map(quote).join(', ')}]`;
    case 'nin': return `!(${f} in [${(r.value || []).map(quote).join(', ')}])`;
    case 'has': return `${quote(r.value)} in coalesce(${f}, [])`;
    case 'contains': return `text(${f}).contains(${quote(r.value)})`;
    case 'present': return `present(${f})`;
    case 'empty': return `is_blank(${f})`;
    case 'within': return `days_since(${f}) <= ${r.value}`;
    case 'older': return `days_since(${f}) > ${r.value}`;
    case 'next': return `(days_until(${f}) >= 0 && days_until(${f}) <= ${r.value})`;
    case 'between': return `(${f} >= ${quote(r.value)} && ${f} <= ${quote(r.value2)})`;
    default: throw new Error(`unknown operator ${r.op}`);
  }
}

/** Whether a row has what its operator needs. */
export function rowComplete(r) {
  if (!r.field || !r.op) return false;
  if (['yes', 'no', 'present', 'empty'].includes(r.op)) return true;
  if (r.op === 'in' || r.op === 'nin') return Array.isArray(r.value) && r.value.length > 0;
  if (r.op === 'between') return typeof r.value === 'number' && typeof r.value2 === 'number';
  if (['within', 'older', 'next'].includes(r.op)) return Number.isInteger(r.value) && r.value >= 0;
  return r.value !== undefined && r.value !== null && r.value !== '';
}

// ---- conditions: rows grouped by all / any, nested one level ----

function groupOf(e, depth) {
  const inner = e.t === 'paren' ? e.e : e;
  const join = inner.t === 'or' ? 'any' : inner.t === 'and' ? 'all' : null;
  if (!join) { const r = rowOf(e); return r ? { join: 'all', items: [r] } : null; }
  const items = [];
  for (const x of inner.a) {
    const r = rowOf(x);
    if (r) { items.push(r); continue; }
    if (depth > 0 || x.t !== 'paren') return null;
    const g = groupOf(x, depth + 1);
    if (!g || g.join === join) return null;
    items.push(g);
  }
  return { join, items };
}

function readTree(e) {
  if (!e) return null;
  const r = rowOf(e);
  if (r) return { join: 'all', items: [r] };
  if (e.t === 'paren') return null;
  return groupOf(e, 0);
}

/** The rhai of a condition tree; '' when it has no complete row. */
export function writeCondition(tree) {
  const part = (x, nested) => {
    if (x.items) {
      const items = x.items.map((y) => part(y, true)).filter(Boolean);
      if (!items.length) return '';
      const s = items.join(x.join === 'any' ? ' || ' : ' && ');
      return nested && items.length > 1 ? `(${s})` : s;
    }
    return rowComplete(x) ? writeRow(x) : '';
  };
  return part(tree, false);
}

/** The condition tree of a script, or null when it is not one the builder wrote. */
export function readCondition(src) {
  const s = (src ?? '').trim();
  if (!s) return { join: 'all', items: [] };
  const tree = readTree(parseExpr(s));
  return tree && writeCondition(tree) === s ? tree : null;
}

// ---- segment shapes ----

function splitStatements(src) {
  // Statements end at ';' or a newline outside braces and brackets.
  const out = [];
  let depth = 0, cur = '', inStr = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (inStr) { cur += c; if (c === '\\') { cur += src[++i] ?? ''; } else if (c === '"') inStr = false; continue; }
    if (c === '"') { inStr = true; cur += c; continue; }
    if ('{[('.includes(c)) depth++;
    if ('}])'.includes(c)) depth--;
    if ((c === ';' || c === '\n') && depth === 0) { if (cur.trim()) out.push(cur.trim()); cur = ''; continue; }
    cur += c;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** `if COND { BODY }` → [cond source, body source], or null. */
function ifParts(stmt) {
  const m = /^if\s+([\s\S]*?)\s*\{\s*([^{}]*?)\s*\}$/.exec(stmt);
  return m ? [m[1], m[2]] : null;
}

/** A label chain: `if C { "A" } else if C { "B" } else { "C" }` → {rules: [{when, label}], otherwise}. */
function readLabel(src) {
  if (src === '()') return { rules: [], otherwise: null };
  if (/^"(?:[^"\\]|\\.)*"$/.test(src)) return { rules: [], otherwise: JSON.parse(src) };
  const parts = src.split(/\s*\}\s*else\s*/);
  const rules = [];
  let otherwise = null;
  for (let i = 0; i < parts.length; i++) {
    let p = parts[i].trim();
    if (i < parts.length - 1) p += ' }';
    if (i > 0 && !p.startsWith('if ')) {
      const m = /^\{\s*("(?:[^"\\]|\\.)*")\s*\}$/.exec(p);
      if (!m || i !== parts.length - 1) return null;
      otherwise = JSON.parse(m[1]);
      continue;
    }
    const ip = ifParts(p);
    if (!ip || !/^"(?:[^"\\]|\\.)*"$/.test(ip[1])) return null;
    const when = readCondition(ip[0]);
    if (!when || !when.items.length) return null;
    rules.push({ when, label: JSON.parse(ip[1]) });
  }
  return rules.length ? { rules, otherwise } : null;
}

function writeLabel(m) {
  const rules = m.rules.filter((r) => writeCondition(r.when) && r.label !== '');
  if (!rules.length) return m.otherwise ? quote(m.otherwise) : '()';
  const chain = rules.map((r) => `if ${writeCondition(r.when)} { ${quote(r.label)} }`).join(' else ');
  return m.otherwise ? `${chain} else { ${quote(m.otherwise)} }` : chain;
}

/** A score: `let s = BASE;` then `if C { s += P }` lines, then `clamp(s, MIN, MAX)`. */
function readScore(src) {
  const st = splitStatements(src);
  const base = /^let s = (-?\d+)$/.exec(st[0] || '');
  const cap = /^clamp\(s, (-?\d+), (-?\d+)\)$/.exec(st[st.length - 1] || '');
  if (!base || !cap || st.length < 2) return null;
  const criteria = [];
  for (const s of st.slice(1, -1)) {
    const ip = ifParts(s);
    const m = ip && /^s ([+-])= (\d+)$/.exec(ip[1]);
    const when = m && readCondition(ip[0]);
    if (!when || !when.items.length) return null;
    criteria.push({ when, points: (m[1] === '-' ? -1 : 1) * Number(m[2]) });
  }
  return { base: Number(base[1]), criteria, min: Number(cap[1]), max: Number(cap[2]) };
}

function writeScore(m) {
  const lines = [`let s = ${m.base | 0};`];
  for (const c of m.criteria) {
    const w = writeCondition(c.when);
    if (w && Number.isFinite(c.points) && c.points !== 0) lines.push(`if ${w} { s ${c.points < 0 ? '-' : '+'}= ${Math.abs(c.points | 0)} }`);
  }
  lines.push(`clamp(s, ${m.min | 0}, ${m.max | 0})`);
  return lines.join('\n');
}

/** Tags: `let l = [];` then `if C { l.push("x") }` lines, then `l`. */
function readTags(src) {
  const st = splitStatements(src);
  if (st[0] !== 'let l = []' || st[st.length - 1] !== 'l' || st.length < 2) return null;
  const rules = [];
  for (const s of st.slice(1, -1)) {
    const ip = ifParts(s);
    const m = ip && /^l\.push\(("(?:[^"\\]|\\.)*")\)$/.exec(ip[1]);
    const when = m && readCondition(ip[0]);
    if (!when || !when.items.length) return null;
    rules.push({ when, label: JSON.parse(m[1]) });
  }
  return { rules };
}

function writeTags(m) {
  const lines = ['let l = [];'];
  for (const r of m.rules) {
    const w = writeCondition(r.when);
    if (w && r.label) lines.push(`if ${w} { l.push(${quote(r.label)}) }`);
  }
  lines.push('l');
  return lines.join('\n');
}

/** A segment's script as the model of its kind's builder, or null when hand-written. */
export function readSegment(kind, src) {
  const s = (src ?? '').trim();
  const read = { label: readLabel, score: readScore, labels: readTags, flag: (x) => (x === 'false' ? { join: 'all', items: [] } : readCondition(x)) }[kind];
  if (!read) return null;
  const m = read(s);
  return m && writeSegment(kind, m) === s ? m : null;
}

/** The script of a segment builder's model. */
export function writeSegment(kind, m) {
  if (kind === 'flag') return writeCondition(m) || 'false';
  return { label: writeLabel, score: writeScore, labels: writeTags }[kind](m);
}

/** A new, empty model of a segment kind. */
export function emptySegment(kind) {
  if (kind === 'flag') return { join: 'all', items: [] };
  if (kind === 'score') return { base: 0, criteria: [], min: 0, max: 100 };
  if (kind === 'labels') return { rules: [] };
  return { rules: [], otherwise: null };
}

/** Thresholds on one field (年度消费 ≥ 100,000 → A …), when every rule of a label chain is `field >= n`. */
export function thresholdField(m) {
  const fields = new Set();
  for (const r of m.rules) {
    const only = r.when.items.length === 1 && r.when.items[0].op === 'ge' && typeof r.when.items[0].value === 'number' ? r.when.items[0] : null;
    if (!only) return null;
    fields.add(only.field);
  }
  return fields.size === 1 ? [...fields][0] : null;
}

// ---- formulas: a computed field's value from a function of fields ----

const F = '([a-z][a-z0-9_]*)';
const rec = (f) => `record.${f}`;
const num = (f) => `coalesce(record.${f}, 0)`;
const withRound = (expr, d) => (Number.isInteger(d) ? `round(${expr}, ${d})` : expr);
const STR = '("(?:[^"\\\\]|\\\\.)*")';
const LIT = '(-?\\d+(?:\\.\\d+)?|"(?:[^"\\\\]|\\\\.)*")';
const litValue = (s) => (s.startsWith('"') ? JSON.parse(s) : Number(s));

/** The functions a formula may be. */
export const FORMULAS = ['sum', 'diff', 'ratio', 'percent', 'filled', 'days_between', 'days_since', 'days_until', 'age', 'choose', 'join'];

/** The rhai of a formula model, or '' while it lacks a field. */
export function writeFormula(m) {
  const fs = (m.fields || []).filter(Boolean);
  switch (m.fn) {
    case 'sum': return fs.length ? withRound(fs.map(num).join(' + '), m.decimals) : '';
    case 'diff': return fs.length === 2 ? withRound(`${num(fs[0])} - ${num(fs[1])}`, m.decimals) : '';
    case 'ratio': return fs.length === 2 ? `if ${rec(fs[1])} > 0 { round(${rec(fs[0])} * 1.0 / ${rec(fs[1])}, ${m.decimals ?? 2}) } else { () }` : '';
    case 'percent': return fs.length === 2 ? withRound(`percent(${rec(fs[0])}, ${rec(fs[1])})`, m.decimals) : '';
    case 'filled': return fs.length ? `completeness(record, [${fs.map((f) => JSON.stringify(f)).join(', ')}])` : '';
    case 'days_between': return fs.length === 2 ? `days_between(${rec(fs[0])}, ${rec(fs[1])})` : '';
    case 'days_since': case 'days_until': case 'age': return fs.length === 1 ? `${m.fn}(${rec(fs[0])})` : '';
    case 'join': return fs.length ? fs.map((f) => `text(${rec(f)})`).join(` + ${JSON.stringify(m.sep ?? ' ')} + `) : '';
    case 'choose': {
      const w = m.when ? writeCondition(m.when) : '';
      if (!w || m.then === undefined || m.then === '') return '';
      const v = (x) => (x === undefined || x === null || x === '' ? '()' : quote(x));
      return `if ${w} { ${v(m.then)} } else { ${v(m.otherwise)} }`;
    }
    default: return '';
  }
}

/** A computed field's script as a formula model, or null when it is not one the builder wrote. */
export function readFormula(src) {
  const s = (src ?? '').trim();
  const tries = [];
  const roundOf = (x) => { const m = new RegExp(`^round\\(([\\s\\S]*), (\\d+)\\)$`).exec(x); return m ? [m[1], Number(m[2])] : [x, undefined]; };
  {
    const [inner, decimals] = roundOf(s);
    const sum = inner.split(' + ').map((p) => new RegExp(`^coalesce\\(record\\.${F}, 0\\)$`).exec(p)?.[1]);
    if (sum.every(Boolean)) tries.push({ fn: 'sum', fields: sum, decimals });
    const diff = new RegExp(`^coalesce\\(record\\.${F}, 0\\) - coalesce\\(record\\.${F}, 0\\)$`).exec(inner);
    if (diff) tries.push({ fn: 'diff', fields: [diff[1], diff[2]], decimals });
    const pc = new RegExp(`^percent\\(record\\.${F}, record\\.${F}\\)$`).exec(inner);
    if (pc) tries.push({ fn: 'percent', fields: [pc[1], pc[2]], decimals });
  }
  const ratio = new RegExp(`^if record\\.${F} > 0 \\{ round\\(record\\.${F} \\* 1\\.0 / record\\.${F}, (\\d+)\\) \\} else \\{ \\(\\) \\}$`).exec(s);
  if (ratio && ratio[1] === ratio[3]) tries.push({ fn: 'ratio', fields: [ratio[2], ratio[1]], decimals: Number(ratio[4]) });
  const filled = /^completeness\(record, \[(.*)\]\)$/.exec(s);
  if (filled) { try { const fs = JSON.parse(`[${filled[1]}]`); if (fs.every((x) => typeof x === 'string')) tries.push({ fn: 'filled', fields: fs }); } catch { /* not a list of names */ } }
  const between = new RegExp(`^days_between\\(record\\.${F}, record\\.${F}\\)$`).exec(s);
  if (between) tries.push({ fn: 'days_between', fields: [between[1], between[2]] });
  const one = new RegExp(`^(days_since|days_until|age)\\(record\\.${F}\\)$`).exec(s);
  if (one) tries.push({ fn: one[1], fields: [one[2]] });
  const join = new RegExp(`^text\\(record\\.${F}\\)((?: \\+ ${STR} \\+ text\\(record\\.${F}\\))*)$`).exec(s);
  if (join) {
    const parts = [...join[2].matchAll(new RegExp(` \\+ ${STR} \\+ text\\(record\\.${F}\\)`, 'g'))];
    tries.push({ fn: 'join', fields: [join[1], ...parts.map((p) => p[2])], sep: parts.length ? JSON.parse(parts[0][1]) : ' ' });
  }
  const choose = new RegExp(`^if ([\\s\\S]+?) \\{ (${LIT.slice(1, -1)}|\\(\\)) \\} else \\{ (${LIT.slice(1, -1)}|\\(\\)) \\}$`).exec(s);
  if (choose) {
    const when = readCondition(choose[1]);
    if (when && when.items.length) tries.push({ fn: 'choose', when, then: choose[2] === '()' ? undefined : litValue(choose[2]), otherwise: choose[3] === '()' ? undefined : litValue(choose[3]) });
  }
  return tries.find((m) => writeFormula(m) === s) || null;
}
