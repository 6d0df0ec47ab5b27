// The condition and segment builders: rows of field → operator → value
// picked from lists, written as the rhai the engine runs (conditions.js).
// A script the builder did not write opens in the code editor with a notice
// and is kept as it is.
import { t } from './i18n.js';
import { get } from './api.js';
import './code-editor.js';
import { el, kindOf } from './dom.js';
import { loadPeople, people, nameOf } from './people.js';
import { OPERATORS, FORMULAS, readCondition, writeCondition, readSegment, writeSegment, emptySegment, thresholdField, readFormula, writeFormula } from './conditions.js';

const KIND_OF = { text: 'text', textarea: 'text', phone: 'text', email: 'text', select: 'choice', multiselect: 'tags', checkbox: 'bool', number: 'number', money: 'number', rating: 'number', nps: 'number', date: 'date', datetime: 'date', user: 'user', link: 'link' };
const NUMBER_WIDGETS = new Set(['progress', 'percent', 'money', 'number']);

/**
 * What a condition on `def`'s records can name: its fields, computed fields,
 * rollups and (unless `segments` is false) its segments, each with the kind
 * of value it holds. `forms` (key → definition) resolves a rollup's field.
 */
export function catalogOf(def, { forms = {}, segments = true } = {}) {
  const out = [];
  const props = def.schema?.properties || {};
  const widgets = def.ui?.widgets || {};
  for (const [k, s] of Object.entries(props)) {
    const kind = KIND_OF[kindOf(s, widgets[k])];
    if (!kind || kind === 'link') continue;
    const values = s.enum || s.items?.enum;
    out.push({ path: `record.${k}`, title: s.title || k, kind, values: values?.map((v) => [v, v]) });
  }
  for (const k of Object.keys(def.computed || {})) {
    const w = widgets[k] || {};
    out.push({ path: `record.${k}`, title: w.title || k, kind: NUMBER_WIDGETS.has(w.widget) ? 'number' : 'text' });
  }
  for (const [k, r] of Object.entries(def.rollups || {})) {
    let kind = 'number';
    if (['min', 'max', 'latest'].includes(r.op)) {
      const child = forms[r.from]?.schema?.properties?.[r.field];
      kind = child ? KIND_OF[kindOf(child)] || 'text' : /date|_at$/.test(r.field || '') ? 'date' : 'text';
    }
    out.push({ path: `record.${k}`, title: widgets[k]?.title || k, kind });
  }
  if (segments) {
    for (const [k, s] of Object.entries(def.segments || {})) {
      const values = s.values ? Object.entries(s.values) : undefined;
      const kind = { label: 'choice', labels: 'tags', score: 'number', flag: 'bool' }[s.kind] || 'text';
      out.push({ path: `segments.${k}`, title: `${t('segmentOf')}${s.title || k}`, kind, values });
    }
  }
  return out;
}

/** Every form's definition by key (for rollups and links), read afresh by each page (a pack installed since adds forms). */
export function allForms() {
  return get('/api/v1/forms').then((r) => Object.fromEntries(r.items.map((f) => [f.key, f.definition]))).catch(() => ({}));
}

const opLabel = (kind, op) => t(kind === 'date' && ['lt', 'gt'].includes(op) ? `op_date_${op}` : `op_${op}`);

/** The value input(s) of one row, by its field's kind and operator. */
function valueInputs(row, f, changed) {
  const op = row.op;
  if (['yes', 'no', 'present', 'empty'].includes(op)) return [];
  const num = (key, attrs = {}) => {
    const i = el('input', { type: 'number', step: 'any', value: row[key] ?? '', 'aria-label': t('value'), name: `cb-${key}`, class: 'cb-num', ...attrs });
    i.addEventListener('input', () => { row[key] = i.value === '' ? undefined : Number(i.value); changed(); });
    return i;
  };
  if (['within', 'older', 'next'].includes(op)) return [num('value', { min: 0, step: 1 }), el('span', { class: 'muted' }, t('days'))];
  if (op === 'between') return [num('value'), el('span', { class: 'muted' }, t('and')), num('value2')];
  if (f?.kind === 'number') return [num('value')];
  if (f?.kind === 'date') {
    const i = el('input', { type: 'date', value: row.value ?? '', 'aria-label': t('value'), name: 'cb-value' });
    i.addEventListener('input', () => { row.value = i.value || undefined; changed(); });
    return [i];
  }
  const choices = f?.kind === 'user' ? people().map((u) => [u.email, nameOf(u.email)]) : f?.values;
  if (op === 'in' || op === 'nin') {
    const chosen = new Set(row.value || []);
    if (!choices) {
      const i = el('input', { value: (row.value || []).join('，'), placeholder: t('commaSeparated'), 'aria-label': t('value'), name: 'cb-value' });
      i.addEventListener('input', () => { row.value = i.value.split(/[,，、]/).map((x) => x.trim()).filter(Boolean); changed(); });
      return [i];
    }
    return [el('span', { class: 'cb-chips', role: 'group', 'aria-label': t('value') }, choices.map(([v, label]) => {
      const box = el('input', { type: 'checkbox', value: v, checked: chosen.has(v) });
      box.addEventListener('change', () => { if (box.checked) chosen.add(v); else chosen.delete(v); row.value = choices.map((c) => c[0]).filter((x) => chosen.has(x)); changed(); });
      return el('label', { class: 'chip' }, box, label);
    }))];
  }
  if (choices) {
    const s = el('select', { 'aria-label': t('value'), name: 'cb-value' }, el('option', { value: '' }, t('pick')), choices.map(([v, label]) => el('option', { value: v, selected: row.value === v }, label)));
    if (row.value !== undefined && !choices.some((c) => c[0] === row.value)) s.append(el('option', { value: row.value, selected: true }, String(row.value)));
    s.addEventListener('change', () => { row.value = s.value || undefined; changed(); });
    return [s];
  }
  const i = el('input', { value: row.value ?? '', 'aria-label': t('value'), name: 'cb-value' });
  i.addEventListener('input', () => { row.value = i.value; changed(); });
  return [i];
}

function rowEl(row, catalog, changed, remove) {
  const box = el('div', { class: 'cb-row', 'data-row': '' });
  const draw = () => {
    const f = catalog.find((x) => x.path === row.field);
    const fieldSel = el('select', { 'aria-label': t('field'), name: 'cb-field' }, el('option', { value: '' }, t('pickField')),
      catalog.map((x) => el('option', { value: x.path, selected: x.path === row.field }, x.title)));
    if (row.field && !f) fieldSel.append(el('option', { value: row.field, selected: true }, row.field));
    fieldSel.addEventListener('change', () => {
      const nf = catalog.find((x) => x.path === fieldSel.value);
      row.field = fieldSel.value;
      if (!nf || !OPERATORS[nf.kind].includes(row.op)) row.op = nf ? OPERATORS[nf.kind][0] : undefined;
      delete row.value; delete row.value2;
      draw(); changed();
    });
    const ops = f ? OPERATORS[f.kind] : row.op ? [row.op] : [];
    const opSel = el('select', { 'aria-label': t('operator'), name: 'cb-op' }, ops.map((o) => el('option', { value: o, selected: o === row.op }, opLabel(f?.kind, o))));
    opSel.addEventListener('change', () => {
      const was = row.op;
      row.op = opSel.value;
      const multi = (o) => o === 'in' || o === 'nin';
      if (multi(was) !== multi(row.op)) row.value = multi(row.op) ? (row.value !== undefined && !Array.isArray(row.value) ? [row.value] : []) : Array.isArray(row.value) ? row.value[0] : row.value;
      if (['within', 'older', 'next', 'between'].includes(row.op) !== ['within', 'older', 'next', 'between'].includes(was)) { delete row.value; delete row.value2; }
      draw(); changed();
    });
    box.replaceChildren(fieldSel, opSel, ...valueInputs(row, f, changed),
      el('button', { type: 'button', class: 'small plain', 'aria-label': t('removeItem'), title: t('removeItem'), onclick: remove }, '×'));
  };
  draw();
  return box;
}

function groupEl(group, catalog, changed, { nested = false, onRemove } = {}) {
  const box = el('div', { class: nested ? 'cb-group nested' : 'cb-group' });
  const draw = () => {
    const join = el('select', { 'aria-label': t('join'), name: 'cb-join' }, ['all', 'any'].map((j) => el('option', { value: j, selected: group.join === j }, t(`join_${j}`))));
    join.addEventListener('change', () => { group.join = join.value; changed(); });
    const rows = group.items.map((x, i) => {
      const remove = () => { group.items.splice(i, 1); draw(); changed(); };
      return x.items ? groupEl(x, catalog, changed, { nested: true, onRemove: remove }) : rowEl(x, catalog, changed, remove);
    });
    box.replaceChildren(
      el('div', { class: 'cb-head' }, t('matchWhen'), join, t('ofTheseConditions'),
        nested ? el('button', { type: 'button', class: 'small plain', style: 'margin-left:auto', onclick: onRemove }, t('removeGroup')) : null),
      ...rows,
      el('div', { class: 'cb-add' },
        el('button', { type: 'button', class: 'small', 'data-add-row': '', onclick: () => { group.items.push({ field: '', op: undefined }); draw(); } }, `+ ${t('addCondRow')}`),
        nested ? null : el('button', { type: 'button', class: 'small', 'data-add-group': '', onclick: () => { group.items.push({ join: group.join === 'all' ? 'any' : 'all', items: [{ field: '', op: undefined }] }); draw(); } }, `+ ${t('addCondGroup')}`)));
  };
  draw();
  return box;
}

/**
 * A condition, built by picking (or, for a script the builder cannot read
 * back, in the code editor with a notice). `onChange(src)` gets the rhai
 * ('' for no condition). `pointer` is where the server's problems point.
 */
export function conditionInput({ value = '', tree: given, catalog, onChange, label = 'condition', pointer, emptyText, allowScript = true }) {
  const box = el('div', { class: 'cb', 'data-pointer': pointer, 'data-condition': label });
  // A builder inside a segment rule edits the rule's own tree (rows not yet complete included).
  let src = given ? writeCondition(given) : value || '';
  let tree = given || readCondition(src);
  let mode = tree ? 'builder' : 'code';
  const handWritten = !tree;
  const draw = () => {
    if (mode === 'builder') {
      const code = el('code', { class: 'cb-rhai' }, src || t('noCondition'));
      const changed = () => {
        src = writeCondition(tree);
        code.textContent = src || t('noCondition');
        onChange(src);
      };
      box.replaceChildren(
        tree.items.length ? groupEl(tree, catalog, changed) : el('div', { class: 'cb-empty' }, el('span', { class: 'muted' }, emptyText || t('noCondition')),
          el('button', { type: 'button', class: 'small', 'data-add-row': '', onclick: () => { tree.items.push({ field: '', op: undefined }); draw(); } }, `+ ${t('addCondRow')}`)),
        el('details', { class: 'cb-script' }, el('summary', {}, t('showScript')), code,
          allowScript ? el('button', { type: 'button', class: 'small plain', 'data-to-script': '', onclick: () => { mode = 'code'; draw(); } }, t('editAsScript')) : null));
    } else {
      const editor = el('code-editor', { label });
      editor.value = src;
      const back = el('button', { type: 'button', class: 'small', 'data-to-builder': '' }, t('useBuilder'));
      const sync = () => { back.disabled = !readCondition(editor.value); };
      editor.addEventListener('change', () => { src = editor.value; onChange(src.trim()); sync(); });
      back.addEventListener('click', () => { tree = readCondition(src); if (tree) { mode = 'builder'; draw(); } });
      sync();
      box.replaceChildren(
        handWritten && src === value ? el('div', { class: 'notice cb-notice', 'data-hand-written': '' }, t('handWritten')) : '',
        editor, el('div', { class: 'actions', style: 'margin-top:6px' }, back));
    }
  };
  draw();
  return box;
}

/** A list of the labels a segment gives, for the label pickers. */
const labelChoices = (seg) => Object.entries(seg.values || {});

function labelInput(seg, value, set, name) {
  const listId = `labels-${Math.random().toString(36).slice(2)}`;
  const i = el('input', { value: value ?? '', list: listId, name, 'aria-label': t('labelValue'), class: 'cb-label', placeholder: 'A' });
  i.addEventListener('input', () => set(i.value));
  return [i, el('datalist', { id: listId }, labelChoices(seg).map(([v, title]) => el('option', { value: v }, title)))];
}

/**
 * A segment's rule built by picking: a tier by thresholds or conditions
 * (label), points for criteria (score), tags for conditions (labels), a
 * condition (flag). Hand-written scripts open in the code editor with a
 * notice. `onChange(script)` gets the rhai.
 */
export function segmentInput({ seg, catalog, onChange }) {
  const box = el('div', { class: 'sb', 'data-segment-builder': seg.kind });
  const original = typeof seg.script === 'string' ? seg.script : '';
  let model = readSegment(seg.kind, original) || (original.trim() ? null : emptySegment(seg.kind));
  let byThreshold = seg.kind === 'label' && model && (model.rules.length === 0 || thresholdField(model) !== null);
  let thresholdOn = model && seg.kind === 'label' ? thresholdField(model) : null;
  const numbers = catalog.filter((f) => f.kind === 'number');
  const emit = () => { const s = writeSegment(seg.kind, model); script.textContent = s; onChange(s); };
  const script = el('code', { class: 'cb-rhai' });

  const cond = (c, label) => conditionInput({ tree: c.when, catalog, label, allowScript: false, onChange: emit });
  const move = (list, i, d, redraw) => { const j = i + d; if (j < 0 || j >= list.length) return; [list[i], list[j]] = [list[j], list[i]]; redraw(); emit(); };
  const tools = (list, i, redraw) => el('span', { class: 'sb-tools' },
    el('button', { type: 'button', class: 'small plain', 'aria-label': t('moveUp'), title: t('moveUp'), onclick: () => move(list, i, -1, redraw) }, '↑'),
    el('button', { type: 'button', class: 'small plain', 'aria-label': t('moveDown'), title: t('moveDown'), onclick: () => move(list, i, 1, redraw) }, '↓'),
    el('button', { type: 'button', class: 'small plain', 'aria-label': t('removeItem'), title: t('removeItem'), onclick: () => { list.splice(i, 1); redraw(); emit(); } }, '×'));

  function drawLabel(body) {
    const modeSel = el('div', { class: 'seg-tabs', role: 'tablist' },
      el('button', { type: 'button', role: 'tab', 'aria-selected': String(byThreshold), class: byThreshold ? 'on' : '', 'data-mode': 'threshold', onclick: () => { if (thresholdField(model) !== null || !model.rules.length) { byThreshold = true; draw(); } } }, t('byThreshold')),
      el('button', { type: 'button', role: 'tab', 'aria-selected': String(!byThreshold), class: byThreshold ? '' : 'on', 'data-mode': 'conditions', onclick: () => { byThreshold = false; draw(); } }, t('byConditions')));
    body.append(modeSel);
    if (byThreshold) {
      thresholdOn ||= thresholdField(model) || numbers[0]?.path || '';
      const fieldSel = el('select', { name: 'threshold-field', 'aria-label': t('field') }, el('option', { value: '' }, t('pickField')), numbers.map((f) => el('option', { value: f.path, selected: f.path === thresholdOn }, f.title)));
      fieldSel.addEventListener('change', () => { thresholdOn = fieldSel.value; for (const r of model.rules) r.when.items[0].field = thresholdOn; emit(); });
      body.append(el('div', { class: 'cb-head' }, t('tierBy'), fieldSel));
      const table = el('table', { class: 'sb-table' }, el('thead', {}, el('tr', {}, el('th', {}, t('atLeast')), el('th', {}, t('labelValue')), el('th', {}, ''))));
      const tbody = el('tbody');
      model.rules.forEach((r, i) => {
        const row = r.when.items[0];
        const n = el('input', { type: 'number', step: 'any', name: `threshold-${i}`, value: row.value ?? '', 'aria-label': t('atLeast') });
        n.addEventListener('input', () => { row.value = n.value === '' ? undefined : Number(n.value); emit(); });
        tbody.append(el('tr', { 'data-threshold': i }, el('td', {}, '≥ ', n), el('td', {}, '→ ', ...labelInput(seg, r.label, (v) => { r.label = v; emit(); }, `threshold-label-${i}`)), el('td', {}, tools(model.rules, i, draw))));
      });
      tbody.append(el('tr', {}, el('td', {}, t('otherwise')), el('td', {}, '→ ', ...labelInput(seg, model.otherwise, (v) => { model.otherwise = v || null; emit(); }, 'otherwise')), el('td')));
      table.append(tbody);
      body.append(table, el('button', { type: 'button', class: 'small', 'data-add-threshold': '', onclick: () => {
        const last = model.rules[model.rules.length - 1]?.when.items[0].value;
        model.rules.push({ when: { join: 'all', items: [{ field: thresholdOn, op: 'ge', value: last !== undefined ? last / 2 : undefined }] }, label: '' });
        draw(); emit();
      } }, `+ ${t('addThreshold')}`));
      return;
    }
    model.rules.forEach((r, i) => {
      body.append(el('div', { class: 'sb-rule', 'data-rule-row': i }, el('div', { class: 'sb-rule-head' }, el('strong', {}, i === 0 ? t('ifCond') : t('elseIfCond')), tools(model.rules, i, draw)),
        cond(r, `rule ${i + 1}`), el('div', { class: 'cb-head' }, t('thenLabel'), ...labelInput(seg, r.label, (v) => { r.label = v; emit(); }, `rule-label-${i}`))));
    });
    body.append(el('div', { class: 'cb-head' }, t('otherwiseLabel'), ...labelInput(seg, model.otherwise, (v) => { model.otherwise = v || null; emit(); }, 'otherwise')),
      el('button', { type: 'button', class: 'small', 'data-add-rule-row': '', onclick: () => { model.rules.push({ when: { join: 'all', items: [{ field: '', op: undefined }] }, label: '' }); draw(); } }, `+ ${t('addLabelRule')}`));
  }

  function drawScore(body) {
    const num = (obj, key, name) => {
      const i = el('input', { type: 'number', step: 1, name, value: obj[key] ?? 0, class: 'cb-num', 'aria-label': t(name) });
      i.addEventListener('input', () => { obj[key] = Number(i.value) || 0; emit(); });
      return i;
    };
    body.append(el('div', { class: 'cb-head' }, t('scoreBase'), num(model, 'base', 'scoreBase')));
    model.criteria.forEach((c, i) => {
      body.append(el('div', { class: 'sb-rule', 'data-criterion': i }, el('div', { class: 'sb-rule-head' }, el('strong', {}, t('criterionN', { n: i + 1 })), tools(model.criteria, i, draw)),
        cond(c, `criterion ${i + 1}`), el('div', { class: 'cb-head' }, t('thenPoints'), num(c, 'points', 'points'), t('pointsUnit'))));
    });
    body.append(el('button', { type: 'button', class: 'small', 'data-add-criterion': '', onclick: () => { model.criteria.push({ when: { join: 'all', items: [{ field: '', op: undefined }] }, points: 10 }); draw(); } }, `+ ${t('addCriterion')}`),
      el('div', { class: 'cb-head' }, t('scoreCap'), num(model, 'min', 'scoreMin'), '–', num(model, 'max', 'scoreMax')));
  }

  function drawTags(body) {
    model.rules.forEach((r, i) => {
      body.append(el('div', { class: 'sb-rule', 'data-rule-row': i }, el('div', { class: 'sb-rule-head' }, el('strong', {}, t('tagN', { n: i + 1 })), tools(model.rules, i, draw)),
        cond(r, `tag ${i + 1}`), el('div', { class: 'cb-head' }, t('thenTag'), ...labelInput(seg, r.label, (v) => { r.label = v; emit(); }, `tag-label-${i}`))));
    });
    body.append(el('button', { type: 'button', class: 'small', 'data-add-rule-row': '', onclick: () => { model.rules.push({ when: { join: 'all', items: [{ field: '', op: undefined }] }, label: '' }); draw(); } }, `+ ${t('addTagRule')}`));
  }

  function draw() {
    if (!model) {
      const editor = el('code-editor', { label: 'segment' });
      editor.value = seg.script?.file ? '' : original;
      editor.addEventListener('change', () => onChange(editor.value));
      box.replaceChildren(el('div', { class: 'notice cb-notice', 'data-hand-written': '' }, seg.script?.file ? t('scriptFile', { f: seg.script.file }) : t('handWritten')), editor);
      return;
    }
    const body = el('div', { class: 'sb-body' });
    if (seg.kind === 'flag') {
      body.append(conditionInput({ tree: model, catalog, label: 'flag', allowScript: false, onChange: emit }));
    } else if (seg.kind === 'label') drawLabel(body);
    else if (seg.kind === 'score') drawScore(body);
    else drawTags(body);
    script.textContent = writeSegment(seg.kind, model);
    box.replaceChildren(body, el('details', { class: 'cb-script' }, el('summary', {}, t('showScript')), script));
  }
  draw();
  return box;
}

/** How many fields each formula takes, and of which kinds. */
const FORMULA_ARGS = {
  sum: { n: 'many', kinds: ['number'], decimals: true }, diff: { n: 2, kinds: ['number'], decimals: true }, ratio: { n: 2, kinds: ['number'], decimals: true, required: true },
  percent: { n: 2, kinds: ['number'], decimals: true }, filled: { n: 'many', kinds: null }, days_between: { n: 2, kinds: ['date'] },
  days_since: { n: 1, kinds: ['date'] }, days_until: { n: 1, kinds: ['date'] }, age: { n: 1, kinds: ['date'] }, join: { n: 'many', kinds: null, sep: true }, choose: { n: 0 },
};

/**
 * A computed field as a formula picked from a list (sum, ratio, percentage
 * filled, days between, age, a value by condition, text joined…) over
 * fields picked by title; a script the builder did not write opens in the
 * code editor with a notice. `onChange(src)` gets the rhai.
 */
export function formulaInput({ value = '', catalog, onChange }) {
  const box = el('div', { class: 'fb', 'data-formula': '' });
  const own = catalog.filter((f) => f.path.startsWith('record.')).map((f) => ({ ...f, key: f.path.slice(7) }));
  let model = readFormula(value) || (value.trim() ? null : { fn: 'sum', fields: [] });
  const script = el('code', { class: 'cb-rhai', id: 'formula-rhai' });
  const emit = () => { const src = writeFormula(model); script.textContent = src || '—'; onChange(src); };
  const draw = () => {
    if (!model) {
      const editor = el('code-editor', { label: 'formula' });
      editor.value = value;
      editor.addEventListener('change', () => onChange(editor.value));
      box.replaceChildren(el('div', { class: 'notice cb-notice', 'data-hand-written': '' }, t('handWritten')), editor);
      return;
    }
    const spec = FORMULA_ARGS[model.fn];
    const fnSel = el('select', { name: 'formula-fn', 'aria-label': t('formulaFn') }, FORMULAS.map((f) => el('option', { value: f, selected: f === model.fn }, t(`fx_${f}`))));
    fnSel.addEventListener('change', () => {
      const next = FORMULA_ARGS[fnSel.value];
      const keep = (model.fields || []).filter((k) => !next.kinds || next.kinds.includes(own.find((f) => f.key === k)?.kind));
      model = { fn: fnSel.value, fields: next.n === 'many' ? keep : keep.slice(0, next.n || 0) };
      if (model.fn === 'choose') model.when = { join: 'all', items: [{ field: '', op: undefined }] };
      draw(); emit();
    });
    const choices = own.filter((f) => !spec.kinds || spec.kinds.includes(f.kind));
    const parts = [el('div', { class: 'cb-head' }, t('formulaFn'), fnSel)];
    if (spec.n === 'many') {
      const chosen = new Set(model.fields);
      parts.push(el('div', { class: 'cb-chips', role: 'group', 'aria-label': t('formulaFields') }, choices.map((f) => {
        const c = el('input', { type: 'checkbox', value: f.key, checked: chosen.has(f.key) });
        c.addEventListener('change', () => {
          // Kept in the order they were picked: a joined text reads in that order.
          model.fields = c.checked ? [...model.fields, f.key] : model.fields.filter((k) => k !== f.key);
          emit();
        });
        return el('label', { class: 'chip' }, c, f.title);
      })));
    } else if (spec.n > 0) {
      const row = el('div', { class: 'cb-head' });
      for (let i = 0; i < spec.n; i++) {
        const sel = el('select', { name: `formula-field-${i}`, 'aria-label': t('field') }, el('option', { value: '' }, t('pickField')), choices.map((f) => el('option', { value: f.key, selected: model.fields[i] === f.key }, f.title)));
        sel.addEventListener('change', () => { model.fields[i] = sel.value; emit(); });
        if (i > 0) row.append(el('span', { class: 'muted' }, t(`fx_${model.fn}_sep`)));
        row.append(sel);
      }
      parts.push(row);
    }
    if (spec.decimals) {
      const d = el('input', { type: 'number', min: 0, max: 6, step: 1, name: 'formula-decimals', class: 'cb-num', value: model.decimals ?? (spec.required ? 2 : ''), placeholder: t('noRounding'), 'aria-label': t('decimals') });
      d.addEventListener('input', () => { model.decimals = d.value === '' ? undefined : Number(d.value); emit(); });
      parts.push(el('div', { class: 'cb-head' }, t('decimals'), d));
    }
    if (spec.sep) {
      const sep = el('input', { name: 'formula-sep', value: model.sep ?? ' ', class: 'cb-label', 'aria-label': t('separator') });
      sep.addEventListener('input', () => { model.sep = sep.value; emit(); });
      parts.push(el('div', { class: 'cb-head' }, t('separator'), sep));
    }
    if (model.fn === 'choose') {
      model.when ||= { join: 'all', items: [] };
      const val = (k, name) => {
        const i = el('input', { name, value: model[k] ?? '', class: 'cb-label', 'aria-label': t(name) });
        i.addEventListener('input', () => { const n = Number(i.value); model[k] = i.value === '' ? undefined : i.value.trim() !== '' && !Number.isNaN(n) ? n : i.value; emit(); });
        return i;
      };
      parts.push(el('strong', {}, t('ifCond')), conditionInput({ tree: model.when, catalog, label: 'formula', allowScript: false, onChange: emit }),
        el('div', { class: 'cb-head' }, t('thenValue'), val('then', 'formula-then'), t('elseValue'), val('otherwise', 'formula-else')));
    }
    script.textContent = writeFormula(model) || '—';
    box.replaceChildren(...parts, el('div', { class: 'fb-rhai' }, el('span', { class: 'muted' }, t('scriptBeside')), script));
  };
  draw();
  return box;
}

/** Loads what the pickers need (people for user fields). */
export const ready = () => loadPeople();
