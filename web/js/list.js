// A form's record list: chosen columns (fields and segments), filters (a
// field or segment with an operator, date ranges such as "this week"), sort
// by a column, keyset paging ("more"), the count, and saved views (kept on
// the server per user; a shared one is offered to the owner's team). Filtering, sorting and paging are the API's: the list is
// as fast as its indexes, at a million records too.
import { t } from './i18n.js';
import { api, get, post } from './api.js';
import { el, confirmAction, toast } from './dom.js';
import { exportRecords } from './sheets.js';
import { display, fieldTitle, segmentValue } from './format.js';
import { people, nameOf } from './people.js';
import { viewSwitch } from './board.js';

/** Views an older version kept in this browser: moved to the server once. */
const LOCAL_VIEWS = (form) => `trellis.views.${form}`;

/** A date range by name, as `_between` bounds (local days). */
function range(name) {
  const d = new Date();
  const day = (x) => `${x.getFullYear()}-${String(x.getMonth() + 1).padStart(2, '0')}-${String(x.getDate()).padStart(2, '0')}`;
  const add = (x, n) => { const y = new Date(x); y.setDate(y.getDate() + n); return y; };
  if (name === 'today') return [day(d), day(d)];
  if (name === 'this_week') { const mon = add(d, -((d.getDay() + 6) % 7)); return [day(mon), day(add(mon, 6))]; }
  if (name === 'last_7') return [day(add(d, -6)), day(d)];
  if (name === 'this_month') return [day(new Date(d.getFullYear(), d.getMonth(), 1)), day(new Date(d.getFullYear(), d.getMonth() + 1, 0))];
  if (name === 'next_30') return [day(d), day(add(d, 30))];
  return null;
}

/** What a filter target holds: `text`, `number`, `boolean`, `list`, `date` or `datetime`. */
export function typeOf(target, props, segments) {
  if (target.startsWith('segments.')) {
    const kind = segments[target.slice(9)]?.kind;
    return kind === 'score' ? 'number' : kind === 'flag' ? 'boolean' : kind === 'labels' ? 'list' : 'text';
  }
  const p = props[target] || {};
  if (p.type === 'array') return 'list';
  if (p.type === 'number' || p.type === 'integer') return 'number';
  if (p.type === 'boolean') return 'boolean';
  if (p.format === 'date') return 'date';
  if (p.format === 'date-time') return 'datetime';
  return 'text';
}

/** The operators a target of `type` takes (the API refuses the others). */
export function opsFor(type) {
  const cmp = [['_eq', '='], ['_neq', '≠'], ['_gt', '>'], ['_gte', '≥'], ['_lt', '<'], ['_lte', '≤']];
  const nulls = [['_null', t('empty')], ['_nnull', t('notEmpty')]];
  if (type === 'list') return [['_contains', t('containsOp')], ...nulls];
  if (type === 'boolean') return [['_eq', '='], ['_neq', '≠'], ...nulls];
  if (type === 'date' || type === 'datetime') return [['_range', t('within')], ['_gte', '≥'], ['_lte', '≤'], ...nulls];
  if (type === 'number') return [...cmp, ...nulls];
  return [...cmp, ['_contains', t('containsOp')], ...nulls];
}

/** The API filter of the view's conditions. */
function filterOf(conds, props, segments) {
  const parts = [];
  for (const c of conds) {
    if (!c.target) continue;
    const type = typeOf(c.target, props, segments);
    const val = (v) => (type === 'number' && v !== '' && !Number.isNaN(Number(v)) ? Number(v) : type === 'boolean' ? v === 'true' || v === true : v);
    // Local days as instants: a date-time matches by the time it is, whatever offset it was written with.
    const instant = (day, end) => { const [y, m, d] = day.split('-').map(Number); return new Date(y, m - 1, d + (end ? 1 : 0), 0, 0, 0, end ? -1 : 0).toISOString(); };
    if (c.op === '_range') {
      const r = range(c.value);
      if (r) parts.push({ [c.target]: { _between: type === 'datetime' ? [instant(r[0], false), instant(r[1], true)] : r } });
    } else if (c.op === '_null' || c.op === '_nnull') parts.push({ [c.target]: { [c.op]: true } });
    else if (c.value !== '' && c.value !== undefined) {
      const v = type === 'datetime' && /^\d{4}-\d{2}-\d{2}$/.test(c.value) ? instant(c.value, c.op === '_lte') : val(c.value);
      parts.push({ [c.target]: { [c.op]: v } });
    }
  }
  return parts.length === 0 ? null : parts.length === 1 ? parts[0] : { _and: parts };
}

export async function listView(main, key, params = new URLSearchParams()) {
  const [f, forms, flows] = await Promise.all([get(`/api/v1/forms/${key}`), get('/api/v1/forms'), get(`/api/v1/forms/${key}/workflows`)]);
  const byKey = Object.fromEntries(forms.items.map((x) => [x.key, x.definition]));
  const def = f.definition;
  const me = window.trellisMe || {};
  const hasOwner = def.schema.properties.owner?.format === 'user';
  let mine = params.get('mine') === '1' && hasOwner;
  let search = '';
  const selected = new Set();
  const props = def.schema.properties;
  const fieldKeys = Object.keys(props);
  const segKeys = Object.keys(def.segments || {});
  const label = (k) => fieldTitle(def, k);
  // The quick search looks in the title field and the other short text fields.
  const textKeys = [def.title_field, ...fieldKeys.filter((k) => props[k].type === 'string' && !props[k].format && !props[k].enum && k !== def.title_field && !(props[k].maxLength > 200))].filter(Boolean).slice(0, 6);
  /** The view's filter with the search box and 只看我的 added. */
  const fullFilter = () => {
    const parts = [filterOf(view.conds, props, def.segments || {})].filter(Boolean);
    if (search) parts.push({ _or: textKeys.map((k) => ({ [k]: { _contains: search } })) });
    if (mine) parts.push({ owner: { _in: [me.id, me.email] } });
    return parts.length === 0 ? null : parts.length === 1 ? parts[0] : { _and: parts };
  };
  // Saved views live on the server; ones an older version left in this browser move there once.
  let views = [];
  const loadViews = async () => {
    const local = JSON.parse(localStorage.getItem(LOCAL_VIEWS(key)) || '[]');
    for (const v of local) await api('POST', `/api/v1/forms/${key}/views`, { name: v.name, config: { columns: v.columns, conds: v.conds, sort: v.sort } }).catch(() => {});
    localStorage.removeItem(LOCAL_VIEWS(key));
    views = (await get(`/api/v1/forms/${key}/views`)).items;
  };
  await loadViews();
  // By default: the title, the owner, then the first other fields and segments.
  const lead = [def.title_field, hasOwner ? 'owner' : null].filter((k) => k && props[k]);
  let view = { name: '', columns: [...lead, ...fieldKeys.filter((k) => !lead.includes(k)).slice(0, 6 - lead.length), ...segKeys.slice(0, 3).map((s) => `segments.${s}`)], conds: [], sort: '' };
  let cursor = null;
  let rows = [];
  let counted = 0;

  const status = el('div', { role: 'status' });
  const count = el('span', { class: 'muted', id: 'record-count' });
  const bar = el('div', { class: 'card filters' });
  const table = el('table', { class: 'list records' });
  const more = el('button', { id: 'more', onclick: () => load(false) }, t('more'));
  const targets = [...fieldKeys, ...segKeys.map((s) => `segments.${s}`)];

  function drawBar() {
    bar.innerHTML = '';
    const pick = el('select', { name: 'view', 'aria-label': t('savedViews') }, el('option', { value: '' }, t('allRecords')),
      views.map((v) => el('option', { value: v.id, selected: v.id === view.id }, v.user_id === me.id ? `${v.name}${v.shared ? ` · ${t('sharedView')}` : ''}` : `${v.name} · ${nameOf(v.user_id)}`)));
    pick.addEventListener('change', () => {
      const v = views.find((x) => x.id === pick.value);
      view = v ? { id: v.id, name: v.name, mine: v.user_id === me.id, shared: v.shared, ...structuredClone(v.config) } : { ...view, id: '', name: '', conds: [], sort: '' };
      drawBar(); load(true);
    });
    const name = el('input', { name: 'view-name', placeholder: t('viewName'), 'aria-label': t('viewName'), style: 'max-width:160px', value: view.mine ? view.name : '' });
    const share = el('label', { class: 'check' }, el('input', { type: 'checkbox', id: 'share-view', checked: !!view.shared }), t('shareWithTeam'));
    const save = el('button', { id: 'save-view', onclick: async () => {
      if (!name.value.trim()) { name.focus(); return; }
      try {
        const v = await api('POST', `/api/v1/forms/${key}/views`, { name: name.value.trim(), config: { columns: view.columns, conds: view.conds, sort: view.sort }, shared: share.querySelector('input').checked });
        await loadViews();
        view = { ...view, id: v.id, name: v.name, mine: true, shared: v.shared };
        toast(t('viewSaved', { x: v.name }));
        drawBar();
      } catch (err) { status.className = 'notice error'; status.textContent = err.message; }
    } }, t('saveView'));
    const drop = view.id && view.mine ? el('button', { class: 'small danger', id: 'delete-view', onclick: async () => {
      if (!(await confirmAction(t('confirmDeleteView', { x: view.name })))) return;
      await api('DELETE', `/api/v1/views/${view.id}`);
      await loadViews();
      view = { ...view, id: '', name: '', mine: false, shared: false };
      drawBar();
    } }, t('delete')) : null;
    const condRows = view.conds.map((c, i) => {
      const p = props[c.target] || {};
      const type = typeOf(c.target, props, def.segments || {});
      const isDate = type === 'date' || type === 'datetime';
      const ops = opsFor(type);
      if (!ops.some(([v]) => v === c.op)) c.op = ops[0][0];
      const target = el('select', { name: `cond-target-${i}` }, targets.map((k) => el('option', { value: k, selected: k === c.target }, label(k))));
      target.addEventListener('change', () => { c.target = target.value; c.op = opsFor(typeOf(c.target, props, def.segments || {}))[0][0]; c.value = ''; drawBar(); });
      const op = el('select', { name: `cond-op-${i}` }, ops.map(([v, l]) => el('option', { value: v, selected: v === c.op }, l)));
      op.addEventListener('change', () => { c.op = op.value; c.value = ''; drawBar(); });
      let value;
      if (c.op === '_range') {
        value = el('select', { name: `cond-value-${i}` }, ['today', 'this_week', 'last_7', 'this_month', 'next_30'].map((r) => el('option', { value: r, selected: c.value === r }, t(`r_${r}`))));
        if (!c.value) c.value = 'this_week';
      } else if (c.op === '_null' || c.op === '_nnull') value = el('span');
      else if (type === 'boolean') value = el('select', { name: `cond-value-${i}` }, el('option', { value: '' }, '—'), [['true', '✓'], ['false', '✗']].map(([v, l]) => el('option', { value: v, selected: String(c.value) === v }, l)));
      else if (p.enum || p.items?.enum) value = el('select', { name: `cond-value-${i}` }, el('option', { value: '' }, '—'), (p.enum || p.items.enum).map((o) => el('option', { value: o, selected: c.value === o }, o)));
      else if (c.target.startsWith('segments.') && Object.keys(def.segments?.[c.target.slice(9)]?.values || {}).length) {
        // A label segment offers its values by their titles.
        const seg = c.target.slice(9);
        value = el('select', { name: `cond-value-${i}` }, el('option', { value: '' }, '—'), Object.keys(def.segments[seg].values).map((o) => el('option', { value: o, selected: c.value === o }, segmentValue(def, seg, o))));
      } else if (p.format === 'user') value = el('select', { name: `cond-value-${i}` }, el('option', { value: '' }, '—'), people().map((u) => el('option', { value: u.id, selected: c.value === u.id }, u.name || u.email)));
      else value = el('input', { name: `cond-value-${i}`, value: c.value, type: isDate ? 'date' : 'text', style: 'max-width:180px', onkeydown: (e) => { if (e.key === 'Enter') { e.preventDefault(); c.value = value.value; load(true); } } });
      value.addEventListener?.('change', () => { c.value = value.value; });
      value.addEventListener?.('input', () => { c.value = value.value; });
      return el('div', { class: 'cond' }, target, op, value, el('button', { class: 'small', onclick: () => { view.conds.splice(i, 1); drawBar(); load(true); } }, '×'));
    });
    const cols = el('details', { class: 'cols-pick' }, el('summary', {}, t('pickColumns')), el('div', {}, targets.map((k) => {
      const box = el('input', { type: 'checkbox', checked: view.columns.includes(k), 'data-column': k });
      box.addEventListener('change', () => { view.columns = box.checked ? [...view.columns, k] : view.columns.filter((x) => x !== k); draw(); });
      return el('label', { class: 'check' }, box, label(k));
    })));
    const box = el('input', { type: 'search', id: 'quick-search', value: search, placeholder: t('searchIn', { f: textKeys.slice(0, 2).map(label).join('、') }), title: textKeys.map(label).join('、'), 'aria-label': t('search'), style: 'max-width:260px' });
    box.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); search = box.value.trim(); load(true); } });
    box.addEventListener('search', () => { search = box.value.trim(); load(true); });
    const mineBox = hasOwner ? el('label', { class: 'check' }, el('input', { type: 'checkbox', id: 'only-mine', checked: mine, onchange: (e) => { mine = e.target.checked; load(true); } }), t('onlyMine')) : null;
    bar.append(el('div', { class: 'actions' }, box, mineBox, pick, name, share, save, drop, cols, count),
      el('div', { class: 'conds' }, condRows), el('div', { class: 'actions' }, el('button', { class: 'small', id: 'add-cond', onclick: () => { view.conds.push({ target: targets[0], op: '_eq', value: '' }); drawBar(); } }, `+ ${t('addCond')}`),
        el('button', { class: 'primary small', id: 'apply-filter', onclick: () => load(true) }, t('apply'))));
  }

  const bulk = el('div', { class: 'bulk card', id: 'bulk', hidden: true });
  function drawBulk() {
    bulk.hidden = selected.size === 0;
    if (!selected.size) return;
    const owner = hasOwner ? el('select', { id: 'bulk-owner', 'aria-label': fieldTitle(def, 'owner') }, el('option', { value: '' }, `${fieldTitle(def, 'owner')}…`), people().map((u) => el('option', { value: u.id }, u.name || u.email))) : null;
    const editable = fieldKeys.filter((k) => !(f.access?.readonly || []).includes(k) && (props[k].enum || props[k].type === 'boolean'));
    const field = el('select', { id: 'bulk-field', 'aria-label': t('setField') }, el('option', { value: '' }, `${t('setField')}…`), editable.map((k) => el('option', { value: k }, label(k))));
    const value = el('select', { id: 'bulk-value', 'aria-label': t('fieldValue') });
    field.addEventListener('change', () => { const p = props[field.value] || {}; value.replaceChildren(...(p.type === 'boolean' ? [['true', t('yes')], ['false', t('no')]] : (p.enum || []).map((o) => [o, o])).map(([v, l]) => el('option', { value: v }, l))); });
    const result = el('span', { id: 'bulk-result', role: 'status' });
    // A transition of a workflow on this form, taken on each selected record that is in a state it leaves.
    const moves = flows.items.flatMap((w) => w.transitions.map((tr) => ({ id: `${w.key}/${tr.key}`, workflow: w.key, tr, label: `${w.title || w.key}：${tr.title || tr.key}` })));
    const move = moves.length ? el('select', { id: 'bulk-move', 'aria-label': t('bulkMove') }, el('option', { value: '' }, `${t('bulkMove')}…`), moves.map((m) => el('option', { value: m.id }, m.label))) : null;
    const patchEach = (patch) => (id) => api('PATCH', `/api/v1/forms/${key}/records/${id}`, patch);
    const transitionEach = (m) => async (id) => {
      const inst = (await get(`/api/v1/forms/${key}/records/${id}/workflows`)).items.find((i) => i.workflow === m.workflow && i.status === 'active');
      if (!inst) throw new Error(t('noRunning', { w: m.label.split('：')[0] }));
      await post(`/api/v1/instances/${inst.id}/transitions/${m.tr.key}`);
    };
    bulk.replaceChildren(...[el('strong', {}, t('nSelected', { n: selected.size })),
      owner, owner ? el('button', { id: 'bulk-assign', onclick: () => owner.value && apply(t('assignTo'), patchEach({ owner: owner.value }), result) }, t('assignTo')) : null,
      field, value, el('button', { id: 'bulk-set', onclick: () => field.value && apply(t('setField'), patchEach({ [field.value]: props[field.value].type === 'boolean' ? value.value === 'true' : value.value }), result) }, t('set')),
      move, move ? el('button', { id: 'bulk-transition', onclick: () => { const m = moves.find((x) => x.id === move.value); if (m) apply(m.label, transitionEach(m), result); } }, t('bulkMoveGo')) : null,
      f.access?.delete === 'none' ? null : el('button', { class: 'danger', id: 'bulk-delete', onclick: () => apply(t('delete'), (id) => api('DELETE', `/api/v1/forms/${key}/records/${id}`), result, true) }, t('delete')),
      el('button', { class: 'small', onclick: () => { selected.clear(); draw(); } }, t('clearSelection')), result].filter(Boolean));
  }

  /** Runs one change on every selected row, each through the API's own checks, and says how each went. */
  async function apply(what, run, result, deleting = false) {
    const ids = [...selected];
    if (!(await confirmAction(t('confirmBulk', { what, n: ids.length }), { ok: what, danger: deleting }))) return;
    const failed = [];
    let done = 0;
    for (const id of ids) {
      result.textContent = t('progress', { i: done + failed.length + 1, n: ids.length });
      try {
        await run(id);
        done += 1;
        selected.delete(id);
      } catch (err) { failed.push([id, err.message]); }
    }
    const titleOf = (id) => String(rows.find((r) => r.id === id)?.data[def.title_field] ?? t('unknownRecord'));
    const failures = failed.map(([id, m]) => el('li', { 'data-failed': id }, `${titleOf(id)}：${m}`));
    await load(true);
    // The outcome stays in view (the failed rows stay selected, to try again).
    bulk.hidden = false;
    bulk.replaceChildren(el('span', { class: failed.length ? 'notice error' : 'notice ok', id: 'bulk-summary' }, `${what} · ${t('bulkDone', { ok: done, bad: failed.length })}`),
      ...(failures.length ? [el('ul', { class: 'plain' }, failures)] : []),
      el('button', { class: 'small', onclick: () => drawBulk() }, t('close')));
    const gone = ids.filter((x) => !failed.some(([y]) => y === x));
    if (deleting && gone.length) toast(t('deletedN', { n: gone.length }), { label: t('undo'), action: async () => { for (const id of gone) await api('POST', `/api/v1/forms/${key}/records/${id}/restore`); await load(true); } });
  }

  function draw() {
    table.innerHTML = '';
    const all = el('input', { type: 'checkbox', 'aria-label': t('selectAll'), id: 'select-all', checked: rows.length > 0 && rows.every((r) => selected.has(r.id)),
      onchange: (e) => { for (const r of rows) { if (e.target.checked) selected.add(r.id); else selected.delete(r.id); } draw(); } });
    const head = el('tr', {}, el('th', { class: 'pick' }, all), view.columns.map((k) => {
      const sortKey = k;
      const on = view.sort === sortKey ? '↑' : view.sort === `-${sortKey}` ? '↓' : '';
      const sortable = !(k.startsWith('segments.') && def.segments[k.slice(9)]?.kind === 'labels') && !['array', 'object'].includes(props[k]?.type);
      return el('th', { 'data-sort': k, class: sortable ? 'sortable' : '', scope: 'col', 'aria-sort': on === '↑' ? 'ascending' : on === '↓' ? 'descending' : undefined },
        sortable ? el('button', { class: 'th', onclick: () => { view.sort = view.sort === sortKey ? `-${sortKey}` : sortKey; load(true); } }, `${label(k)} ${on}`) : label(k));
    }));
    const open = (r) => { location.hash = `#/forms/${key}/records/${r.id}`; };
    const cell = (r, k, i) => {
      const v = k.startsWith('segments.') ? (r.segments[k.slice(9)] === undefined || r.segments[k.slice(9)] === null ? '' : el('span', { class: 'tag' }, segmentValue(def, k.slice(9), r.segments[k.slice(9)]))) : display(def, k, r.data[k], byKey);
      // The first column links to the record: rows open by keyboard as well as by click.
      return i === 0 ? el('a', { href: `#/forms/${key}/records/${r.id}`, class: 'row-link' }, v === '' ? '—' : v) : v;
    };
    const body = el('tbody', {}, rows.map((r) => el('tr', { 'data-record': r.id, class: `clickable${selected.has(r.id) ? ' selected' : ''}`, onclick: (e) => { if (!e.target.closest('a, input, button')) open(r); } },
      el('td', { class: 'pick' }, el('input', { type: 'checkbox', 'aria-label': t('selectRow'), 'data-select': r.id, checked: selected.has(r.id), onchange: (e) => { if (e.target.checked) selected.add(r.id); else selected.delete(r.id); e.target.closest('tr').classList.toggle('selected', e.target.checked); drawBulk(); all.checked = rows.every((x) => selected.has(x.id)); } })),
      view.columns.map((k, i) => el('td', { 'data-col': k }, cell(r, k, i))))));
    table.append(el('thead', {}, head), body);
    more.style.display = cursor ? '' : 'none';
    drawBulk();
  }

  async function load(reset) {
    status.className = ''; status.textContent = '';
    const filter = fullFilter();
    const q = new URLSearchParams({ limit: '50' });
    if (filter) q.set('filter', JSON.stringify(filter));
    if (view.sort) q.set('sort', view.sort);
    if (!reset && cursor) q.set('cursor', cursor);
    try {
      // The count comes on its own: the page is an index seek, a count may read the form's every row.
      if (reset) {
        const asked = ++counted;
        count.textContent = '…';
        get(`/api/v1/forms/${key}/records/count${filter ? `?filter=${encodeURIComponent(JSON.stringify(filter))}` : ''}`)
          .then((n) => { if (asked === counted) count.textContent = t('nRecords', { n: n.count }); })
          .catch(() => { if (asked === counted) count.textContent = ''; });
      }
      const page = await get(`/api/v1/forms/${key}/records?${q}`);
      rows = reset ? page.items : [...rows, ...page.items];
      cursor = page.next_cursor;
      draw();
    } catch (err) {
      status.className = 'notice error'; status.textContent = err.message;
    }
  }

  // The export holds what the list shows: its filter and its sort.
  const exportAs = (format) => async (e) => {
    const b = e.currentTarget;
    const was = b.textContent;
    b.disabled = true; b.textContent = t('exporting');
    try { await exportRecords(key, format, fullFilter(), view.sort); }
    catch (err) { status.className = 'notice error'; status.textContent = err.message; }
    finally { b.disabled = false; b.textContent = was; }
  };
  main.innerHTML = '';
  main.append(el('div', { class: 'head' }, el('h1', {}, `${def.title || key} · ${t('records')}`), el('div', { class: 'actions' }, viewSwitch(key, flows.items, 'list'),
    el('a', { class: 'btn', href: `#/forms/${key}/import`, id: 'import' }, t('import')),
    el('button', { id: 'export-csv', onclick: exportAs('csv') }, t('exportCsv')), el('button', { id: 'export-xlsx', onclick: exportAs('xlsx') }, t('exportXlsx')),
    el('a', { class: 'btn primary', href: `#/forms/${key}/new` }, '+ ' + t('entry')))),
    bar, status, bulk, el('div', { class: 'table-wrap' }, table), el('div', { class: 'actions', style: 'margin-top:10px' }, more));
  drawBar();
  await load(true);
}
