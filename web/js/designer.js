// The form designer: a palette of field kinds, a canvas of sections, the
// selected field's properties, a live preview. It reads and writes a form
// definition (JSON Schema + UI layout); an admin never has to see the JSON,
// but can (the JSON tab). Drag and drop uses pointer events, not the HTML5
// drag API: it works with a finger, a mouse and WebDriver alike; a click on a
// palette item (or Enter on it) adds the field at the end instead.
import { t } from './i18n.js';
import { renderForm } from './renderer.js';
import { el, kindOf } from './dom.js';

export const KINDS = [
  ['text', 'T'], ['textarea', '¶'], ['number', '#'], ['money', '¥'], ['date', '日'], ['datetime', '时'],
  ['select', '◉'], ['multiselect', '☑'], ['checkbox', '✓'], ['user', '人'], ['link', '⇄'], ['subtable', '▦'],
  ['phone', '☎'], ['email', '@'], ['rating', '★'], ['nps', 'N'],
];

/** The JSON Schema of one field of the model. */
function fieldSchema(f) {
  const s = {};
  if (f.label) s.title = f.label;
  if (f.help) s.description = f.help;
  const num = (v) => (v === '' || v === undefined || v === null ? undefined : Number(v));
  switch (f.kind) {
    case 'text': case 'textarea': s.type = 'string'; break;
    case 'number': s.type = 'number'; break;
    case 'money': s.type = 'number'; s.format = 'money'; break;
    case 'date': s.type = 'string'; s.format = 'date'; break;
    case 'datetime': s.type = 'string'; s.format = 'date-time'; break;
    case 'select': s.type = 'string'; s.enum = f.options?.length ? f.options : ['选项1']; break;
    case 'multiselect': s.type = 'array'; s.items = { type: 'string', enum: f.options?.length ? f.options : ['选项1'] }; s.uniqueItems = true; break;
    case 'checkbox': s.type = 'boolean'; break;
    case 'user': s.type = 'string'; s.format = 'user'; break;
    case 'link': s.type = 'string'; if (f.link) s['x-link'] = f.link; break;
    case 'subtable': s.type = 'array'; s.items = { type: 'object', properties: Object.fromEntries((f.columns || []).map((c) => [c, { type: 'string', title: c }])) }; break;
    case 'phone': s.type = 'string'; s.format = 'phone'; break;
    case 'email': s.type = 'string'; s.format = 'email'; break;
    case 'rating': s.type = 'integer'; s.format = 'rating'; s.minimum = 1; s.maximum = num(f.max) ?? 5; break;
    case 'nps': s.type = 'integer'; s.format = 'nps'; s.minimum = 0; s.maximum = 10; break;
  }
  if (['text', 'textarea', 'phone', 'email'].includes(f.kind)) {
    if (num(f.minLength) !== undefined) s.minLength = num(f.minLength);
    if (num(f.maxLength) !== undefined) s.maxLength = num(f.maxLength);
    if (f.pattern && f.kind !== 'phone') s.pattern = f.pattern;
  }
  if (['number', 'money'].includes(f.kind)) {
    if (num(f.min) !== undefined) s.minimum = num(f.min);
    if (num(f.max) !== undefined) s.maximum = num(f.max);
  }
  if (f.default !== undefined && f.default !== '') {
    s.default = ['number', 'money', 'rating', 'nps'].includes(f.kind) ? Number(f.default) : f.kind === 'checkbox' ? f.default === true || f.default === 'true' : f.default;
  }
  return s;
}

/** The designer's model of a stored definition. */
export function modelOf(def) {
  const props = def.schema?.properties || {};
  const required = new Set(def.schema?.required || []);
  const widgets = def.ui?.widgets || {};
  const derived = new Set([...Object.keys(def.computed || {}), ...Object.keys(def.rollups || {})]);
  const field = (key) => {
    const s = props[key];
    return {
      key, kind: kindOf(s, widgets[key]), label: s.title || '', help: s.description || '', required: required.has(key),
      options: s.enum || s.items?.enum || [], min: s.minimum ?? '', max: s.maximum ?? '', minLength: s.minLength ?? '', maxLength: s.maxLength ?? '',
      pattern: s.pattern || '', default: s.default ?? '', link: s['x-link'] || '', columns: Object.keys(s.items?.properties || {}),
    };
  };
  const placed = new Set();
  const sections = (def.ui?.layout || []).filter((l) => l && Array.isArray(l.fields)).map((l) => ({
    title: l.section || l.title || '',
    fields: l.fields.filter((k) => props[k] && !derived.has(k) && !placed.has(k)).map((k) => { placed.add(k); return field(k); }),
  }));
  const rest = Object.keys(props).filter((k) => !placed.has(k) && !derived.has(k));
  if (rest.length || !sections.length) sections.push({ title: sections.length ? '其他' : '基本信息', fields: rest.map(field) });
  const extra = { ...def };
  delete extra.schema; delete extra.ui;
  // Computed and rollup fields are the rules', not the designer's: keep their schema as it is.
  const derivedProps = Object.fromEntries(Object.entries(props).filter(([k]) => derived.has(k)));
  return { key: def.key, title: def.title || '', sections, extra, derivedProps, widgetsExtra: widgets };
}

/** The stored definition of the designer's model. */
export function definitionOf(m) {
  const properties = {};
  const required = [];
  const widgets = {};
  for (const sec of m.sections) {
    for (const f of sec.fields) {
      properties[f.key] = fieldSchema(f);
      if (f.required) required.push(f.key);
      widgets[f.key] = { ...(m.widgetsExtra?.[f.key] || {}), kind: f.kind };
    }
  }
  Object.assign(properties, m.derivedProps || {});
  const schema = { type: 'object', properties };
  if (required.length) schema.required = required;
  const layout = m.sections.map((s) => ({ section: s.title, fields: s.fields.map((f) => f.key) }));
  return { ...m.extra, key: m.key, title: m.title, schema, ui: { layout, widgets } };
}

/** Fields added, removed and changed between two definitions. */
export function changeSummary(before, after) {
  const a = before?.schema?.properties || {};
  const b = after.schema.properties;
  const req = (d, k) => (d?.schema?.required || []).includes(k);
  const added = Object.keys(b).filter((k) => !(k in a));
  const removed = Object.keys(a).filter((k) => !(k in b));
  const changed = Object.keys(b).filter((k) => k in a && (JSON.stringify(a[k]) !== JSON.stringify(b[k]) || req(before, k) !== req(after, k)));
  const layout = JSON.stringify(before?.ui?.layout || []) !== JSON.stringify(after.ui.layout);
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
    const taken = new Set(this.m.sections.flatMap((s) => s.fields.map((f) => f.key)));
    for (let i = 1; ; i++) if (!taken.has(`${kind}_${i}`)) return `${kind}_${i}`;
  }

  newField(kind) {
    const f = { key: this.nextKey(kind), kind, label: t(`k_${kind}`), help: '', required: false, options: [], min: '', max: '', minLength: '', maxLength: '', pattern: '', default: '', link: '', columns: [] };
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
    box.append(el('div', { style: 'margin-top:14px' }, el('button', { class: 'danger small', onclick: () => { const [si, fi] = this.selected; this.m.sections[si].fields.splice(fi, 1); this.selected = null; this.changed(); } }, t('remove'))));
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
    const up = (ev) => {
      document.removeEventListener('pointermove', move);
      document.removeEventListener('pointerup', up);
      placeholder.remove();
      if (!ghost) {
        // A click: a palette item adds its field at the end; a card is selected.
        if (what.kind) this.insert(this.newField(what.kind), this.m.sections.length - 1);
        else this.select(...what.move);
        return;
      }
      ghost.remove();
      source.style.opacity = '';
      target = where(ev.clientX, ev.clientY);
      if (!target) { this.render(); return; }
      if (what.kind) { this.insert(this.newField(what.kind), target.si, target.index); return; }
      const [si, fi] = what.move;
      const [f] = this.m.sections[si].fields.splice(fi, 1);
      const index = si === target.si && fi < target.index ? target.index - 1 : target.index;
      this.insert(f, target.si, index);
    };
    document.addEventListener('pointermove', move);
    document.addEventListener('pointerup', up);
    e.preventDefault();
  }
}
