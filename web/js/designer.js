// The form designer: a palette of field kinds, a canvas of sections, the
// selected field's properties, a live preview. It reads and writes a form
// definition (JSON Schema + UI layout); an admin never has to see the JSON,
// but can (the JSON tab). Drag and drop uses pointer events, not the HTML5
// drag API: it works with a finger, a mouse and WebDriver alike; a click on a
// palette item (or Enter on it) adds the field at the end instead.
import { t } from './i18n.js';
import { renderForm } from './renderer.js';
import { el, kindOf, confirmAction } from './dom.js';

export const KINDS = [
  ['text', 'T'], ['textarea', '¶'], ['number', '#'], ['money', '¥'], ['date', '日'], ['datetime', '时'],
  ['select', '◉'], ['multiselect', '☑'], ['checkbox', '✓'], ['user', '人'], ['link', '⇄'], ['subtable', '▦'],
  ['phone', '☎'], ['email', '@'], ['rating', '★'], ['nps', 'N'],
];

/** Sets `s[k]`, or removes it when `v` is undefined (so an emptied property goes). */
function set(s, k, v) {
  if (v === undefined) delete s[k]; else s[k] = v;
}

/**
 * The JSON Schema of one field of the model. A stored field starts from its
 * stored schema (`f.orig`), so what the designer does not edit — `integer`,
 * a phone's pattern, `multipleOf`, sub-table column types — stays as it was.
 */
function fieldSchema(f) {
  const s = f.orig ? structuredClone(f.orig) : {};
  const num = (v) => (v === '' || v === undefined || v === null || Number.isNaN(Number(v)) ? undefined : Number(v));
  set(s, 'title', f.label || undefined);
  set(s, 'description', f.help || undefined);
  const fmt = { money: 'money', date: 'date', datetime: 'date-time', user: 'user', phone: 'phone', email: 'email', rating: 'rating', nps: 'nps' }[f.kind];
  switch (f.kind) {
    case 'text': case 'textarea': s.type = 'string'; break;
    case 'number': case 'money': if (s.type !== 'integer') s.type = 'number'; break;
    case 'date': case 'datetime': case 'user': case 'phone': case 'email': s.type = 'string'; break;
    case 'select': s.type = 'string'; s.enum = f.options.length ? f.options : s.enum || ['选项1']; break;
    case 'multiselect':
      s.type = 'array';
      if (f.options.length) s.items = { ...(s.items || {}), type: 'string', enum: f.options };
      else s.items ||= { type: 'string' };
      if (!f.orig) s.uniqueItems = true;
      break;
    case 'checkbox': s.type = 'boolean'; break;
    case 'link': s.type = 'string'; set(s, 'x-link', f.link || undefined); break;
    case 'subtable': {
      s.type = 'array';
      const items = s.items?.type === 'object' ? s.items : { type: 'object', properties: {} };
      const old = items.properties || {};
      items.properties = Object.fromEntries(f.columns.map((c) => [c, old[c] || { type: 'string', title: c }]));
      if (items.required) items.required = items.required.filter((c) => f.columns.includes(c));
      s.items = items;
      break;
    }
    case 'rating': s.type = 'integer'; s.minimum ??= 1; s.maximum = num(f.max) ?? s.maximum ?? 5; break;
    case 'nps': s.type = 'integer'; s.minimum = 0; s.maximum = 10; break;
  }
  if (fmt) s.format = fmt;
  if (['text', 'textarea', 'email'].includes(f.kind)) {
    set(s, 'minLength', num(f.minLength));
    set(s, 'maxLength', num(f.maxLength));
    if (f.kind === 'text') set(s, 'pattern', f.pattern || undefined);
  }
  if (['number', 'money'].includes(f.kind)) {
    set(s, 'minimum', num(f.min));
    set(s, 'maximum', num(f.max));
  }
  if (!['subtable', 'multiselect', 'link', 'user'].includes(f.kind)) {
    const d = f.default;
    set(s, 'default', d === undefined || d === '' ? undefined
      : ['number', 'money', 'rating', 'nps'].includes(f.kind) ? num(d)
        : f.kind === 'checkbox' ? d === true || d === 'true' : d);
  }
  return s;
}

/** The designer's model of a stored definition: every part it does not edit is kept to be written back. */
export function modelOf(def) {
  const props = def.schema?.properties || {};
  const required = new Set(def.schema?.required || []);
  const widgets = def.ui?.widgets || {};
  const derived = new Set([...Object.keys(def.computed || {}), ...Object.keys(def.rollups || {})]);
  const field = (key) => {
    const s = props[key];
    return {
      key, origKey: key, orig: s, kind: kindOf(s, widgets[key]), label: s.title || '', help: s.description || '', required: required.has(key),
      options: s.enum || s.items?.enum || [], min: s.minimum ?? '', max: s.maximum ?? '', minLength: s.minLength ?? '', maxLength: s.maxLength ?? '',
      pattern: s.pattern || '', default: s.default ?? '', link: s['x-link'] || '', columns: Object.keys(s.items?.properties || {}),
    };
  };
  const placed = new Set();
  const layout = def.ui?.layout || [];
  const sections = layout.filter((l) => l && Array.isArray(l.fields)).map((l) => {
    const { fields, ...rest } = l;
    const titleKey = 'section' in l ? 'section' : 'title' in l ? 'title' : 'section';
    const entries = fields.filter((k) => (props[k] || derived.has(k)) && !placed.has(k)).map((k) => { placed.add(k); return derived.has(k) ? { derived: k, key: k } : field(k); });
    return { title: l[titleKey] || '', titleKey, rest, fields: entries };
  });
  const rest = Object.keys(props).filter((k) => !placed.has(k) && !derived.has(k));
  if (rest.length || !sections.length) sections.push({ title: sections.length ? '其他' : '基本信息', titleKey: 'section', rest: {}, fields: rest.map(field) });
  const extra = { ...def };
  delete extra.schema; delete extra.ui;
  const { properties: _p, required: _r, ...schemaExtra } = def.schema || {};
  const { layout: _l, widgets: _w, ...uiExtra } = def.ui || {};
  return {
    key: def.key, title: def.title || '', sections, extra, schemaExtra, uiExtra,
    // Layout entries that are not sections, computed and rollup fields (the rules' own), the stored order of properties and of `required`.
    layoutExtra: layout.filter((l) => !(l && Array.isArray(l.fields))),
    derivedProps: Object.fromEntries(Object.entries(props).filter(([k]) => derived.has(k))),
    derivedKeys: [...derived], order: Object.keys(props), requiredOrder: def.schema?.required || [], widgetsExtra: widgets,
  };
}

/** Problems that stop a publish: keys that are not keys, or are used twice. */
export function problemsOf(m) {
  const seen = new Set();
  const out = [];
  for (const f of m.sections.flatMap((s) => s.fields).filter((f) => !f.derived)) {
    if (!/^[a-z][a-z0-9_]*$/.test(f.key)) out.push(`'${f.key}': a key is lowercase letters, digits and _, starting with a letter`);
    else if (seen.has(f.key) || (m.derivedKeys || []).includes(f.key)) out.push(`'${f.key}' is used twice`);
    seen.add(f.key);
  }
  return out;
}

/** The stored definition of the designer's model. */
export function definitionOf(m) {
  const fields = m.sections.flatMap((s) => s.fields).filter((f) => !f.derived);
  const built = Object.fromEntries(fields.map((f) => [f.key, fieldSchema(f)]));
  const all = { ...built, ...(m.derivedProps || {}) };
  // Stored order first, new fields after: an unchanged publish writes the same document.
  const keys = [...(m.order || []).filter((k) => k in all), ...Object.keys(all).filter((k) => !(m.order || []).includes(k))];
  const properties = Object.fromEntries(keys.map((k) => [k, all[k]]));
  const want = new Set(fields.filter((f) => f.required).map((f) => f.key));
  const required = [...(m.requiredOrder || []).filter((k) => want.has(k) || (k in (m.derivedProps || {}))), ...[...want].filter((k) => !(m.requiredOrder || []).includes(k))];
  const schema = { type: 'object', ...(m.schemaExtra || {}), properties };
  if (required.length) schema.required = required;
  const widgets = {};
  for (const [k, w] of Object.entries(m.widgetsExtra || {})) if ((m.derivedKeys || []).includes(k)) widgets[k] = w;
  for (const f of fields) {
    const w = m.widgetsExtra?.[f.origKey ?? f.key];
    // A widget says the kind only where the schema cannot (a long text).
    const next = w && kindOf(built[f.key], w) === f.kind ? w : kindOf(built[f.key], {}) === f.kind ? (w ? { ...w } : undefined) : { ...(w || {}), kind: f.kind };
    if (next) widgets[f.key] = next;
  }
  const layout = [...m.sections.map((s) => ({ ...(s.rest || {}), [s.titleKey || 'section']: s.title, fields: s.fields.map((f) => f.key) })), ...(m.layoutExtra || [])];
  const out = { ...m.extra, key: m.key, title: m.title, schema, ui: { ...(m.uiExtra || {}), layout, widgets } };
  // Required for new records only: of the fields still there (a removed field leaves the list).
  if (out.required_for_new) {
    out.required_for_new = out.required_for_new.filter((k) => k in built);
    if (!out.required_for_new.length) delete out.required_for_new;
  }
  return out;
}

/** JSON with object keys sorted, so two documents compare by content, not by key order. */
function stable(v) {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stable(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

/** Fields added, removed and changed between two definitions. */
export function changeSummary(before, after) {
  const a = before?.schema?.properties || {};
  const b = after.schema.properties;
  const req = (d, k) => (d?.schema?.required || []).includes(k);
  const added = Object.keys(b).filter((k) => !(k in a));
  const removed = Object.keys(a).filter((k) => !(k in b));
  const changed = Object.keys(b).filter((k) => k in a && (stable(a[k]) !== stable(b[k]) || req(before, k) !== req(after, k)));
  const layout = stable(before?.ui || {}) !== stable(after.ui);
  const title = (before?.title || '') !== after.title;
  return { added, removed, changed, layout, title };
}


export class Designer {
  constructor(root, model, { forms = [], onChange = () => {} } = {}) {
    this.root = root;
    this.m = model;
    this.forms = forms;
    this.onChange = onChange;
    this.selected = null; // [section, index]
    this.tab = 'preview';
    this.build();
  }

  nextKey(kind) {
    const taken = new Set([...this.m.sections.flatMap((s) => s.fields.map((f) => f.key)), ...(this.m.derivedKeys || [])]);
    for (let i = 1; ; i++) if (!taken.has(`${kind}_${i}`)) return `${kind}_${i}`;
  }

  newField(kind) {
    const f = { key: this.nextKey(kind), origKey: undefined, orig: undefined, kind, label: t(`k_${kind}`), help: '', required: false, options: [], min: '', max: '', minLength: '', maxLength: '', pattern: '', default: '', link: '', columns: [] };
    if (kind === 'select' || kind === 'multiselect') f.options = ['选项1', '选项2'];
    if (kind === 'subtable') f.columns = ['item', 'qty'];
    if (kind === 'link') f.link = this.forms[0] || '';
    return f;
  }

  build() {
    this.root.innerHTML = '';
    this.palette = el('div', { class: 'card palette', 'aria-label': t('palette') }, el('h2', {}, t('palette')),
      KINDS.map(([kind, icon]) => {
        const item = el('div', { class: 'item', role: 'button', tabindex: '0', 'data-kind': kind }, el('span', { class: 'icon' }, icon), t(`k_${kind}`));
        item.addEventListener('pointerdown', (e) => this.startDrag(e, { kind }, item));
        item.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); this.insert(this.newField(kind), this.m.sections.length - 1); } });
        return item;
      }));
    this.canvas = el('div', { class: 'card canvas' });
    this.side = el('div', { class: 'props-col' });
    this.root.append(el('div', { class: 'designer' }, this.palette, this.canvas, this.side));
    this.render();
  }

  render() {
    const c = this.canvas;
    c.innerHTML = '';
    c.append(el('div', { class: 'section-title' }, el('h2', { style: 'margin:0' }, t('canvas')),
      el('button', { class: 'small', style: 'margin-left:auto', onclick: () => { this.m.sections.push({ title: `${t('section')} ${this.m.sections.length + 1}`, fields: [] }); this.changed(); } }, '+ ' + t('addSection'))));
    this.m.sections.forEach((sec, si) => {
      const title = el('input', { value: sec.title, 'aria-label': t('section'), 'data-section-title': si });
      title.addEventListener('input', () => { sec.title = title.value; this.changed(false); });
      const drop = el('div', { class: 'drop' + (sec.fields.length ? '' : ' empty'), 'data-section': si, 'data-empty': t('dragHere') });
      sec.fields.forEach((f, fi) => {
        if (f.derived) {
          // Computed and rollup fields belong to the rules: shown where they sit, not edited here.
          drop.append(el('div', { class: 'fcard locked', 'data-key': f.key, title: t('derivedHint') }, el('span', { class: 'grip' }, '·'), el('span', { class: 'name' }, this.m.derivedProps?.[f.key]?.title || this.m.widgetsExtra?.[f.key]?.title || f.key), el('span', { class: 'key' }, f.key), el('span', { class: 'tag kind' }, t('derived'))));
          return;
        }
        const on = this.selected && this.selected[0] === si && this.selected[1] === fi;
        const grip = el('span', { class: 'grip', title: 'drag' }, '⠿');
        const card = el('div', { class: 'fcard' + (on ? ' selected' : ''), 'data-key': f.key, tabindex: '0' },
          grip, el('span', { class: 'name' + (f.required ? ' req' : '') }, f.label || f.key), el('span', { class: 'key' }, f.key), el('span', { class: 'tag kind' }, t(`k_${f.kind}`)));
        card.addEventListener('pointerdown', (e) => this.startDrag(e, { move: [si, fi] }, card));
        card.addEventListener('keydown', (e) => {
          if (e.key === 'Enter') this.select(si, fi);
          if ((e.key === 'ArrowUp' || e.key === 'ArrowDown') && e.altKey) { e.preventDefault(); this.moveBy(si, fi, e.key === 'ArrowUp' ? -1 : 1); }
        });
        drop.append(card);
      });
      c.append(el('div', { class: 'section', 'data-section-box': si }, el('div', { class: 'section-title' }, title,
        this.m.sections.length > 1 && !sec.fields.length ? el('button', { class: 'small danger', onclick: () => { this.m.sections.splice(si, 1); this.changed(); } }, '×') : null), drop));
    });
    this.renderSide();
  }

  renderSide() {
    const s = this.side;
    s.innerHTML = '';
    const props = el('div', { class: 'card props' }, el('h2', {}, t('properties')));
    const sel = this.selected && this.m.sections[this.selected[0]]?.fields[this.selected[1]];
    if (!sel) props.append(el('p', { class: 'muted' }, t('nothingSelected')));
    else this.propsFor(sel, props);
    this.view = el('div', { class: 'card', style: 'margin-top:14px' });
    s.append(props, this.view);
    this.renderPreview();
  }

  /** The preview (or the JSON) alone: property edits redraw only this, so the input being typed in keeps its focus. */
  renderPreview() {
    const view = this.view;
    view.innerHTML = '';
    view.append(el('div', { class: 'tabs' }, ['preview', 'json'].map((k) => el('button', { class: this.tab === k ? 'on' : '', onclick: () => { this.tab = k; this.renderPreview(); } }, t(k)))));
    const def = definitionOf(this.m);
    if (this.tab === 'json') view.append(el('pre', { class: 'json' }, JSON.stringify({ schema: def.schema, ui: def.ui }, null, 2)));
    else { const box = el('div', { class: 'preview' }); view.append(box); renderForm(box, def, { preview: true }); }
  }

  /** Shows a property edit on the selected field's card without redrawing the canvas. */
  refreshCard(f) {
    const card = this.canvas.querySelector('.fcard.selected');
    if (!card) return;
    card.dataset.key = f.key;
    const name = card.querySelector('.name');
    name.textContent = f.label || f.key;
    name.classList.toggle('req', !!f.required);
    card.querySelector('.key').textContent = f.key;
  }

  propsFor(f, box) {
    const input = (name, key, attrs = {}) => {
      const i = el('input', { value: f[key] ?? '', name: key, ...attrs });
      i.addEventListener('input', () => {
        f[key] = i.value;
        if (key === 'key') i.setCustomValidity(/^[a-z][a-z0-9_]*$/.test(i.value) ? '' : 'a–z, 0–9, _');
        if (key === 'label' || key === 'key') this.refreshCard(f);
        this.changed(false);
      });
      return [el('label', {}, name), i];
    };
    box.append(...input(t('label'), 'label'), ...input(t('key'), 'key', { pattern: '[a-z][a-z0-9_]*', spellcheck: 'false' }), ...input(t('help'), 'help'));
    const req = el('input', { type: 'checkbox', name: 'required', checked: f.required });
    req.addEventListener('change', () => { f.required = req.checked; this.refreshCard(f); this.changed(false); });
    box.append(el('label', { class: 'check' }, req, t('required')));
    // Required for new records only (`required_for_new`): what the publish dialog offers when records lack a new required field.
    const newOnlyList = () => this.m.extra?.required_for_new || [];
    const newOnly = el('input', { type: 'checkbox', name: 'required_for_new', checked: newOnlyList().includes(f.key) });
    newOnly.addEventListener('change', () => {
      const list = newOnlyList().filter((k) => k !== f.key);
      if (newOnly.checked) list.push(f.key);
      this.m.extra ||= {};
      if (list.length) this.m.extra.required_for_new = list; else delete this.m.extra.required_for_new;
      this.changed(false);
    });
    box.append(el('label', { class: 'check' }, newOnly, t('fixNewOnly')));
    if (f.kind === 'select' || f.kind === 'multiselect') {
      const ta = el('textarea', { rows: 4, name: 'options' }, f.options.join('\n'));
      ta.addEventListener('input', () => { f.options = ta.value.split('\n').map((x) => x.trim()).filter(Boolean); this.changed(false); });
      box.append(el('label', {}, t('options')), ta);
    }
    if (['number', 'money'].includes(f.kind)) box.append(el('div', { class: 'row2' }, el('div', {}, ...input(t('min'), 'min', { type: 'number' })), el('div', {}, ...input(t('max'), 'max', { type: 'number' }))));
    if (['text', 'textarea', 'email'].includes(f.kind)) {
      box.append(el('div', { class: 'row2' }, el('div', {}, ...input(t('minLength'), 'minLength', { type: 'number', min: 0 })), el('div', {}, ...input(t('maxLength'), 'maxLength', { type: 'number', min: 0 }))));
      if (f.kind === 'text') box.append(...input(t('pattern'), 'pattern', { spellcheck: 'false' }));
    }
    if (f.kind === 'rating') box.append(...input(t('max'), 'max', { type: 'number', min: 2, max: 10 }));
    if (f.kind === 'link') {
      const s = el('select', { name: 'link' }, this.forms.map((k) => el('option', { value: k, selected: k === f.link }, k)));
      s.addEventListener('change', () => { f.link = s.value; this.changed(false); });
      box.append(el('label', {}, t('linkTo')), s);
    }
    if (f.kind === 'subtable') {
      const i = el('input', { value: f.columns.join(', '), name: 'columns' });
      i.addEventListener('input', () => { f.columns = i.value.split(',').map((x) => x.trim()).filter((x) => /^[a-z][a-z0-9_]*$/.test(x)); this.changed(false); });
      box.append(el('label', {}, t('columns')), i);
    }
    if (!['subtable', 'multiselect', 'link', 'user'].includes(f.kind)) box.append(...input(t('default'), 'default'));
    box.append(el('div', { style: 'margin-top:14px' }, el('button', { class: 'danger small', id: 'remove-field', onclick: async () => {
      const [si, fi] = this.selected;
      const f = this.m.sections[si].fields[fi];
      // A removed field's values stay in stored records but leave the form once published: ask first.
      if (!(await confirmAction(t('confirmRemoveField', { x: f.label || f.key }), { ok: t('remove') }))) return;
      this.m.sections[si].fields.splice(fi, 1); this.selected = null; this.changed();
    } }, t('remove'))));
  }

  select(si, fi) {
    this.selected = [si, fi];
    this.render();
    this.side.querySelector('input[name=label]')?.focus();
  }

  insert(field, si, at) {
    const fields = this.m.sections[si].fields;
    const i = at ?? fields.length;
    fields.splice(i, 0, field);
    this.selected = [si, i];
    this.changed();
  }

  moveBy(si, fi, d) {
    const fields = this.m.sections[si].fields;
    const j = fi + d;
    if (j < 0 || j >= fields.length) return;
    [fields[fi], fields[j]] = [fields[j], fields[fi]];
    this.selected = [si, j];
    this.changed();
    this.canvas.querySelectorAll('.fcard')[this.flatIndex(si, j)]?.focus();
  }

  flatIndex(si, fi) { return this.m.sections.slice(0, si).reduce((n, s) => n + s.fields.length, 0) + fi; }

  /** Re-renders after an edit: `full` for a change of structure, else only the preview. */
  changed(full = true) {
    if (full) this.render(); else this.renderPreview();
    this.onChange(this.m);
  }

  startDrag(e, what, source) {
    if (e.button !== 0 || e.target.closest('input, button, select, textarea')) return;
    const start = { x: e.clientX, y: e.clientY };
    let ghost = null;
    let target = null;
    const placeholder = el('div', { class: 'placeholder' });
    const where = (x, y) => {
      const under = document.elementFromPoint(x, y);
      const box = under?.closest('[data-section-box]');
      const drop = box?.querySelector('.drop');
      if (!drop) return null;
      const cards = [...drop.querySelectorAll('.fcard')];
      let index = cards.length;
      for (let i = 0; i < cards.length; i++) {
        const r = cards[i].getBoundingClientRect();
        if (y < r.top + r.height / 2) { index = i; break; }
      }
      return { si: Number(drop.dataset.section), index, drop, cards };
    };
    const move = (ev) => {
      if (!ghost) {
        if (Math.hypot(ev.clientX - start.x, ev.clientY - start.y) < 4) return;
        ghost = el('div', { class: 'ghost' }, source.querySelector('.name')?.textContent || source.textContent);
        document.body.append(ghost);
        if (what.move) source.style.opacity = '.4';
      }
      ghost.style.left = `${ev.clientX + 8}px`;
      ghost.style.top = `${ev.clientY + 8}px`;
      target = where(ev.clientX, ev.clientY);
      placeholder.remove();
      if (target) target.drop.insertBefore(placeholder, target.cards[target.index] || null);
    };
    const cancel = () => {
      document.removeEventListener('pointermove', move);
      document.removeEventListener('pointerup', up);
      document.removeEventListener('pointercancel', cancel);
      placeholder.remove();
      ghost?.remove();
      source.style.opacity = '';
    };
    const up = () => {
      document.removeEventListener('pointermove', move);
      document.removeEventListener('pointerup', up);
      document.removeEventListener('pointercancel', cancel);
      placeholder.remove();
      if (!ghost) {
        // A click: a palette item adds its field at the end; a card is selected.
        if (what.kind) this.insert(this.newField(what.kind), this.m.sections.length - 1);
        else this.select(...what.move);
        return;
      }
      ghost.remove();
      source.style.opacity = '';
      // Where the marker was shown is where it lands (measured before the marker took its space).
      if (!target) { this.render(); return; }
      if (what.kind) { this.insert(this.newField(what.kind), target.si, target.index); return; }
      const [si, fi] = what.move;
      const [f] = this.m.sections[si].fields.splice(fi, 1);
      const index = si === target.si && fi < target.index ? target.index - 1 : target.index;
      this.insert(f, target.si, index);
    };
    document.addEventListener('pointermove', move);
    document.addEventListener('pointerup', up);
    document.addEventListener('pointercancel', cancel);
    e.preventDefault();
  }
}
