// Charts drawn as SVG from a widget's figures (`GET /api/v1/dashboards/{key}/data`):
// a metric card, bars, a donut, a line over time, a funnel, a table. No library:
// the shapes are few and simple, and they scale with the page.
import { el, svg } from './dom.js';
import { t } from './i18n.js';
import { display, fieldTitle, segmentValue, asText } from './format.js';
import { nameOf } from './people.js';

const COLORS = ['#2563eb', '#16a34a', '#f59e0b', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#ea580c', '#475569'];
// One way for every figure: 万 from ten thousand, whole numbers from a hundred, at most two decimals below.
const fmt = (v) => (v === null || v === undefined ? '—' : Math.abs(v) >= 10000 ? `${(v / 10000).toFixed(Math.abs(v) >= 100000 ? 0 : 1)}万` : v.toLocaleString('zh-CN', { maximumFractionDigits: Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2 }));
const text = (x, y, s, attrs = {}) => { const n = svg('text', { x, y, 'font-size': 11, fill: '#475569', ...attrs }); n.textContent = s; return n; };

function bars(points) {
  const W = 420; const rowH = 24; const H = Math.max(1, points.length) * rowH + 8; const left = 110;
  const max = Math.max(1, ...points.map((p) => p.value));
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: '100%', role: 'img', class: 'chart bar' });
  points.forEach((p, i) => {
    const y = 4 + i * rowH;
    const w = ((W - left - 60) * p.value) / max;
    root.append(text(left - 6, y + 15, p.label.length > 14 ? `${p.label.slice(0, 13)}…` : p.label, { 'text-anchor': 'end' }),
      svg('rect', { x: left, y: y + 3, width: Math.max(1, w), height: rowH - 8, rx: 3, fill: COLORS[i % COLORS.length], 'data-label': p.label }),
      text(left + w + 6, y + 15, fmt(p.value)));
  });
  return root;
}

function donut(points) {
  const total = points.reduce((s, p) => s + p.value, 0) || 1;
  const R = 60; const r = 36; const cx = 75; const cy = 75;
  const root = svg('svg', { viewBox: '0 0 360 150', width: '100%', role: 'img', class: 'chart pie' });
  let a = -Math.PI / 2;
  points.forEach((p, i) => {
    const da = (2 * Math.PI * p.value) / total;
    const b = a + Math.min(da, 2 * Math.PI - 1e-4);
    const large = b - a > Math.PI ? 1 : 0;
    const pt = (rad, ang) => `${cx + rad * Math.cos(ang)},${cy + rad * Math.sin(ang)}`;
    root.append(svg('path', { d: `M${pt(R, a)} A${R},${R} 0 ${large} 1 ${pt(R, b)} L${pt(r, b)} A${r},${r} 0 ${large} 0 ${pt(r, a)} Z`, fill: COLORS[i % COLORS.length], 'data-label': p.label }));
    a += da;
  });
  root.append(text(cx, cy + 4, fmt(total), { 'text-anchor': 'middle', 'font-size': 14, fill: '#1f2430' }));
  points.slice(0, 8).forEach((p, i) => {
    root.append(svg('rect', { x: 170, y: 14 + i * 16, width: 10, height: 10, rx: 2, fill: COLORS[i % COLORS.length] }),
      text(186, 23 + i * 16, `${p.label}  ${fmt(p.value)} (${Math.round((100 * p.value) / total)}%)`));
  });
  return root;
}

function line(points) {
  const W = 420; const H = 160; const pad = { l: 36, r: 10, t: 10, b: 28 };
  const max = Math.max(1, ...points.map((p) => p.value));
  const x = (i) => pad.l + (points.length <= 1 ? (W - pad.l - pad.r) / 2 : (i * (W - pad.l - pad.r)) / (points.length - 1));
  const y = (v) => H - pad.b - (v / max) * (H - pad.t - pad.b);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: '100%', role: 'img', class: 'chart line' });
  for (const f of [0, 0.5, 1]) root.append(svg('line', { x1: pad.l, x2: W - pad.r, y1: y(max * f), y2: y(max * f), stroke: '#e5e7eb' }), text(pad.l - 4, y(max * f) + 4, fmt(max * f), { 'text-anchor': 'end' }));
  root.append(svg('polyline', { points: points.map((p, i) => `${x(i)},${y(p.value)}`).join(' '), fill: 'none', stroke: COLORS[0], 'stroke-width': 2 }));
  points.forEach((p, i) => root.append(svg('circle', { cx: x(i), cy: y(p.value), r: 3, fill: COLORS[0], 'data-label': p.label })));
  const step = Math.max(1, Math.ceil(points.length / 6));
  points.forEach((p, i) => { if (i % step === 0) root.append(text(x(i), H - 10, p.label.slice(5) || p.label, { 'text-anchor': 'middle' })); });
  return root;
}

function funnel(points) {
  const W = 420; const rowH = 30; const H = points.length * rowH + 6;
  const max = Math.max(1, ...points.map((p) => p.value));
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: '100%', role: 'img', class: 'chart funnel' });
  points.forEach((p, i) => {
    const w = Math.max(24, ((W - 140) * p.value) / max);
    const xs = (W - 140 - w) / 2;
    root.append(svg('rect', { x: xs, y: 3 + i * rowH, width: w, height: rowH - 6, rx: 4, fill: COLORS[i % COLORS.length], opacity: 0.85, 'data-label': p.label }),
      text(W - 130, 3 + i * rowH + 17, `${p.label}  ${fmt(p.value)}`));
  });
  return root;
}

/** A group's label as people read it: a person's name, a segment value's title, a field's value. */
function groupLabel(def, by, label) {
  if (label === '—' || label === '' || label === null || label === undefined) return t('unset');
  if (!def || !by) return label;
  if (by.startsWith('segments.')) return segmentValue(def, by.slice(9), label) || label;
  if (def.schema?.properties?.[by]?.format === 'user') return nameOf(label);
  return label;
}

/**
 * The widget's card with its chart. `spec` is the widget's definition (its
 * form, group and columns) and `forms` the definitions by key, so labels and
 * cells read as people read them.
 */
export function widgetCard(w, spec = {}, forms = {}) {
  const def = forms[spec.form];
  w = { ...w, points: (w.points || []).map((p) => ({ ...p, label: groupLabel(def, spec.group_by, p.label) })), rows: w.rows || [] };
  const card = el('div', { class: `card widget ${w.kind}`, 'data-widget': w.key }, el('div', { class: 'widget-title' }, w.title || w.key));
  if (w.withheld) card.append(el('p', { class: 'muted withheld', title: w.withheld }, `🔒 ${w.withheld}`));
  else if (w.kind === 'metric') card.append(...[el('div', { class: 'metric' }, fmt(w.value)), w.value === w.records ? null : el('div', { class: 'muted' }, t('basedOn', { n: w.records }))].filter(Boolean));
  else if (w.kind === 'table') {
    const cols = Object.keys(w.rows[0]?.values || {});
    const cell = (r, c) => (def ? display(def, c, r.values[c], forms) : r.values[c] === null ? '' : String(r.values[c]));
    const titleField = def?.title_field;
    // Wide tables scroll inside their card instead of spilling out of it.
    card.append(w.rows.length ? el('div', { class: 'scroll-x' }, el('table', { class: 'list' }, el('thead', {}, el('tr', {}, cols.map((c) => el('th', {}, def ? fieldTitle(def, c) : c)))),
      el('tbody', {}, w.rows.map((r) => el('tr', {}, cols.map((c) => el('td', {}, c === titleField && r.id ? el('a', { href: `#/forms/${spec.form}/records/${r.id}` }, asText(cell(r, c))) : cell(r, c)))))))) : el('p', { class: 'muted' }, '—'));
  } else if (!w.points.length) card.append(el('p', { class: 'muted' }, '—'));
  else {
    // A chart is a picture to the eye and its figures to a screen reader.
    const chart = ({ bar: bars, pie: donut, line, funnel })[w.kind](w.points);
    chart.setAttribute('aria-label', `${w.title || w.key}：${w.points.map((p) => `${p.label} ${fmt(p.value)}`).join('，')}`);
    card.append(chart);
  }
  return card;
}
