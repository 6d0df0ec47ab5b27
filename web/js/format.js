// Values as people read them: money with separators and currency, dates in
// the viewer's time zone, 是/否, people by name, segment values by their
// titles, linked records by their title with a link, sub-tables as tables.
// Everything a page shows of a record goes through here.
import { t, lang } from './i18n.js';
import { get } from './api.js';
import { el, kindOf } from './dom.js';
import { personEl } from './people.js';

const locale = () => (lang === 'en' ? 'en' : 'zh-CN');
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/** An amount as money: ¥30,700.00. */
export const money = (n, currency = 'CNY') => new Intl.NumberFormat(locale(), { style: 'currency', currency }).format(n);

/** A calendar day, never shifted by the time zone: 2026年8月20日. */
export function day(s) {
  const [y, m, d] = s.split('-').map(Number);
  return new Date(y, m - 1, d).toLocaleDateString(locale(), { year: 'numeric', month: 'short', day: 'numeric' });
}

/** An instant in the viewer's time zone: 2026年8月20日 13:28. */
export const instant = (s) => new Date(s).toLocaleString(locale(), { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

/** A field's title: the schema's, the widget's (computed fields and rollups), else the key. */
export function fieldTitle(def, k) {
  if (k.startsWith('segments.')) return segmentTitle(def, k.slice(9));
  return def.schema?.properties?.[k]?.title || def.ui?.widgets?.[k]?.title || k;
}

/** A segment's short title (what precedes a parenthesised explanation). */
export const segmentTitle = (def, k) => def.segments?.[k]?.title?.split(/[（(]/)[0].trim() || k;

/** A segment value by its title (`high` → 高); a score as a number, a flag as 是/否. */
export function segmentValue(def, k, v) {
  if (v === undefined || v === null) return '';
  const s = def.segments?.[k] || {};
  const one = (x) => (typeof x === 'boolean' ? (x ? t('yes') : t('no')) : s.values?.[x] ?? String(x));
  return Array.isArray(v) ? v.map(one).join('、') : one(v);
}

const titles = new Map();
const forms = new Map();
/** A form's definition, fetched once per page load however many titles need it. */
const formOf = (form) => { if (!forms.has(form)) forms.set(form, get(`/api/v1/forms/${form}`)); return forms.get(form); };
/** A linked record's title (cached per page load), by its form's title field. */
export function recordTitle(form, id) {
  const key = `${form}/${id}`;
  if (!titles.has(key)) {
    titles.set(key, Promise.all([formOf(form), get(`/api/v1/forms/${form}/records/${id}`)])
      .then(async ([f, r]) => {
        const d = f.definition;
        const own = r.data[d.title_field] ?? r.data.name ?? r.data.title;
        if (own !== undefined && own !== null && own !== '') return String(own);
        // No title of its own (a revisit, an order line): whose it is — 刘杰的回访.
        const [lk, lp] = Object.entries(d.schema?.properties || {}).find(([k, p]) => p['x-link'] && r.data[k]) || [];
        return lk ? `${await recordTitle(lp['x-link'], r.data[lk])}的${d.title || form}` : d.title || form;
      })
      .catch(() => t('unknownRecord')));
  }
  return titles.get(key);
}

/** A link to a record, titled once its title arrives. */
export function recordLink(form, id, fallback = '…') {
  const a = el('a', { href: `#/forms/${form}/records/${id}`, class: 'record-link' }, fallback);
  recordTitle(form, id).then((x) => { a.textContent = x; });
  return a;
}

/** What kind a computed field or rollup holds, from its widget or the field it rolls up. */
function derivedKind(def, k, forms) {
  const w = def.ui?.widgets?.[k] || {};
  if (w.widget === 'money' || w.widget === 'percent' || w.widget === 'progress') return w.widget;
  const r = def.rollups?.[k];
  if (r) {
    if (r.op === 'count') return 'number';
    const src = forms?.[r.from]?.schema?.properties?.[r.field];
    if (src) return kindOf(src, undefined);
  }
  return null;
}

/**
 * A stored value as a page shows it: text, or an element for people, links
 * and tables. `forms` (key → definition) lets rollups borrow their source
 * field's kind.
 */
export function display(def, k, v, forms) {
  if (v === undefined || v === null || v === '') return '';
  const s = def.schema?.properties?.[k];
  const kind = s ? kindOf(s, def.ui?.widgets?.[k]) : derivedKind(def, k, forms);
  return valueOf(kind, v, s, def.ui?.widgets?.[k] || {});
}

/** A value of a known kind (`kindOf`'s names, plus percent and progress). */
export function valueOf(kind, v, s = {}, w = {}) {
  if (v === undefined || v === null || v === '') return '';
  switch (kind) {
    case 'money': return typeof v === 'number' || /^-?\d+(\.\d+)?$/.test(v) ? money(Number(v), s['x-currency'] || 'CNY') : String(v);
    case 'percent': return typeof v === 'number' ? new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: 1 }).format(v) : String(v);
    case 'progress': return `${v}${w.suffix || ''}`;
    case 'number': return typeof v === 'number' ? v.toLocaleString(locale(), { maximumFractionDigits: 2 }) : String(v);
    case 'checkbox': return v ? t('yes') : t('no');
    case 'rating': return typeof v === 'number' ? '★'.repeat(v) + '☆'.repeat(Math.max(0, (s.maximum || 5) - v)) : String(v);
    case 'user': return personEl(v);
    case 'link': return s['x-link'] ? recordLink(s['x-link'], v) : String(v);
    case 'subtable': {
      const cols = Object.keys(s.items?.properties || {});
      return el('table', { class: 'mini' }, el('thead', {}, el('tr', {}, cols.map((c) => el('th', {}, s.items.properties[c].title || c)))),
        el('tbody', {}, (Array.isArray(v) ? v : []).map((row) => el('tr', {}, cols.map((c) => el('td', {}, valueOf(kindOf(s.items.properties[c] || {}), row[c], s.items.properties[c] || {})))))));
    }
    default: return plain(v);
  }
}

/** A value with no known kind: lists joined, days and instants localised, booleans as 是/否. */
export function plain(v) {
  if (v === undefined || v === null) return '';
  if (typeof v === 'boolean') return v ? t('yes') : t('no');
  if (typeof v === 'number') return v.toLocaleString(locale(), { maximumFractionDigits: 2 });
  if (Array.isArray(v)) return v.map(plain).join('、');
  if (typeof v === 'object') return JSON.stringify(v);
  if (DATE.test(v)) return day(v);
  if (INSTANT.test(v)) return instant(v);
  return v;
}

/** A display value as text (for titles, summaries and attributes). */
export const asText = (x) => (x instanceof Node ? x.textContent : String(x ?? ''));
