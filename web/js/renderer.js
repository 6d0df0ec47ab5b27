// A form as staff fill it in, built from the definition's schema and layout.
// `renderForm(box, def, {record, onSubmit})` draws it; the server's validation
// errors are shown at their fields (a problem's `errors[].pointer` is `/field`).
import { t } from './i18n.js';
import { get } from './api.js';
import { el, kindOf } from './dom.js';
import { people, userOf } from './people.js';


/** One field's control: `get()` reads its value (undefined when empty), `set(v)` writes it. */
function control(key, s, k, value) {
  const id = `f_${key}`;
  let node; let read; let write;
  switch (k) {
    case 'textarea':
      node = el('textarea', { id, name: key, rows: 3 });
      read = () => node.value || undefined; write = (v) => { node.value = v ?? ''; };
      break;
    case 'number': case 'money':
      node = el('input', { id, name: key, type: 'number', step: k === 'money' ? '0.01' : 'any', min: s.minimum, max: s.maximum, inputmode: 'decimal' });
      read = () => (node.value === '' ? undefined : Number(node.value)); write = (v) => { node.value = v ?? ''; };
      break;
    case 'date': case 'datetime':
      node = el('input', { id, name: key, type: k === 'date' ? 'date' : 'datetime-local' });
      read = () => {
        if (!node.value) return undefined;
        if (k === 'date') return node.value;
        // datetime-local is the browser's local time: an instant with its offset, as RFC 3339 wants.
        const d = new Date(node.value);
        return Number.isNaN(d.getTime()) ? node.value : d.toISOString();
      };
      write = (v) => {
        if (!v || k === 'date') { node.value = v ?? ''; return; }
        const d = new Date(v);
        const p = (n) => String(n).padStart(2, '0');
        node.value = Number.isNaN(d.getTime()) ? '' : `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
      };
      break;
    case 'select':
      node = el('select', { id, name: key }, el('option', { value: '' }, '—'), (s.enum || []).map((o) => el('option', { value: o }, o)));
      read = () => node.value || undefined; write = (v) => { node.value = v ?? ''; };
      break;
    case 'multiselect': {
      const opts = s.items?.enum || [];
      if (!opts.length) {
        // Free tags (a list of text without set choices): typed, separated by commas.
        node = el('input', { id, name: key, placeholder: 'a, b' });
        read = () => { const v = node.value.split(/[,，|]/).map((x) => x.trim()).filter(Boolean); return v.length ? v : undefined; };
        write = (v) => { node.value = (v || []).join(', '); };
        break;
      }
      node = el('div', { id, class: 'multi' }, opts.map((o) => el('label', { class: 'check', style: 'display:inline-flex;margin-right:12px;font-weight:400' }, el('input', { type: 'checkbox', value: o, name: key }), o)));
      read = () => { const v = [...node.querySelectorAll('input:checked')].map((i) => i.value); return v.length ? v : undefined; };
      write = (v) => node.querySelectorAll('input').forEach((i) => { i.checked = (v || []).includes(i.value); });
      break;
    }
    case 'checkbox':
      node = el('input', { id, name: key, type: 'checkbox' });
      read = () => node.checked; write = (v) => { node.checked = !!v; };
      break;
    case 'rating': {
      const max = s.maximum || 5;
      let cur;
      node = el('div', { id, class: 'stars', role: 'radiogroup' });
      const paint = () => node.querySelectorAll('button').forEach((b, i) => b.classList.toggle('on', cur !== undefined && i < cur));
      for (let i = 1; i <= max; i++) node.append(el('button', { type: 'button', 'aria-label': String(i), onclick: () => { cur = i; paint(); } }, '★'));
      read = () => cur; write = (v) => { cur = v ?? undefined; paint(); };
      break;
    }
    case 'nps': {
      let cur;
      node = el('div', { id, class: 'nps', role: 'radiogroup' });
      const paint = () => node.querySelectorAll('button').forEach((b, i) => b.classList.toggle('on', i === cur));
      for (let i = 0; i <= 10; i++) node.append(el('button', { type: 'button', onclick: () => { cur = i; paint(); } }, String(i)));
      read = () => cur; write = (v) => { cur = v ?? undefined; paint(); };
      break;
    }
    case 'link': {
      // A search box over the linked form's title field, and the matches to pick from.
      const pick = el('select', { id, name: key }, el('option', { value: '' }, '—'));
      const search = el('input', { type: 'search', placeholder: t('searchLink'), 'aria-label': t('searchLink'), name: `${key}-search` });
      const note = el('div', { class: 'field-help' });
      node = el('div', { class: 'link-pick' }, search, pick, note);
      const target = s['x-link'];
      let want = '';
      const fill = async (q) => {
        try {
          const f = await get(`/api/v1/forms/${target}`);
          const tf = f.definition.title_field;
          const filter = q && tf ? `&filter=${encodeURIComponent(JSON.stringify({ [tf]: { _contains: q } }))}` : '';
          const page = await get(`/api/v1/forms/${target}/records?limit=50${filter}`);
          const keep = pick.value || want;
          pick.innerHTML = '';
          pick.append(el('option', { value: '' }, '—'), ...page.items.map((r) => el('option', { value: r.id }, String((tf && r.data[tf]) || r.id))));
          if (keep && ![...pick.options].some((o) => o.value === keep)) pick.append(el('option', { value: keep }, keep));
          pick.value = keep;
          note.textContent = '';
        } catch (err) { note.textContent = err.message; }
      };
      let timer;
      search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => fill(search.value.trim()), 250); });
      if (target) fill('');
      read = () => pick.value || undefined; write = (v) => { want = v ?? ''; pick.value = want; };
      break;
    }
    case 'subtable': {
      const cols = Object.keys(s.items?.properties || {});
      const body = el('tbody');
      const addRow = (row = {}) => body.append(el('tr', {}, cols.map((c) => el('td', {}, el('input', { 'data-col': c, value: row[c] ?? '' }))), el('td', {}, el('button', { type: 'button', class: 'small', onclick: (e) => e.target.closest('tr').remove() }, '×'))));
      node = el('div', { id, class: 'subtable' }, el('table', { class: 'list' }, el('thead', {}, el('tr', {}, cols.map((c) => el('th', {}, s.items.properties[c].title || c)), el('th'))), body),
        el('button', { type: 'button', class: 'small', style: 'margin-top:6px', onclick: () => addRow() }, '+'));
      read = () => {
        const typed = (c, v) => (['number', 'integer'].includes(s.items.properties[c]?.type) && v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : v);
        const rows = [...body.querySelectorAll('tr')].map((tr) => Object.fromEntries([...tr.querySelectorAll('input')].filter((i) => i.value).map((i) => [i.dataset.col, typed(i.dataset.col, i.value)]))).filter((r) => Object.keys(r).length);
        return rows.length ? rows : undefined;
      };
      write = (v) => { body.innerHTML = ''; (v || []).forEach(addRow); };
      break;
    }
    case 'user': {
      // A person picked by name (searchable), never typed: the record keeps
      // what it held (an id or an email) unless another person is picked.
      const search = el('input', { type: 'search', placeholder: t('searchPerson'), 'aria-label': `${s.title || key} · ${t('searchPerson')}`, name: `${key}-search` });
      const pick = el('select', { id, name: key });
      let held;
      const fill = (q) => {
        const keep = pick.value;
        const match = (u) => !q || `${u.name || ''} ${u.email}`.toLowerCase().includes(q.toLowerCase());
        pick.replaceChildren(el('option', { value: '' }, '—'), ...people().filter((u) => match(u) || u.id === keep).map((u) => el('option', { value: u.id, title: u.email }, u.name ? `${u.name}（${u.email}）` : u.email)));
        if (held && !userOf(held)) pick.append(el('option', { value: held }, held));
        pick.value = keep;
      };
      search.addEventListener('input', () => fill(search.value.trim()));
      node = el('div', { class: 'link-pick' }, search, pick);
      read = () => {
        if (!pick.value) return undefined;
        return held && (userOf(held)?.id || held) === pick.value ? held : pick.value;
      };
      write = (v) => { held = v ?? undefined; fill(''); pick.value = v ? userOf(v)?.id || v : ''; };
      break;
    }
    default: {
      const type = { phone: 'tel', email: 'email' }[k] || 'text';
      node = el('input', { id, name: key, type, inputmode: k === 'phone' ? 'tel' : undefined, maxlength: s.maxLength, placeholder: k === 'phone' ? '13800138000' : undefined });
      read = () => node.value.trim() || undefined; write = (v) => { node.value = v ?? ''; };
    }
  }
  write(value ?? s.default);
  return { node, get: read, set: write };
}

/**
 * Draws `def` into `box`. With `onSubmit(data)` (a promise), a submit button
 * sends the data and shows the server's field errors; `preview` draws it inert.
 * `access` (the form's `access` from the API) leaves out the fields the
 * signed-in role may not see and shows those it may not change as locked.
 */
export function renderForm(box, def, { record, onSubmit, onCancel, submitLabel, preview = false, access } = {}) {
  box.innerHTML = '';
  const props = def.schema?.properties || {};
  const required = new Set(def.schema?.required || []);
  const derived = new Set([...Object.keys(def.computed || {}), ...Object.keys(def.rollups || {}), ...(access?.hidden || [])]);
  const locked = new Set(access?.readonly || []);
  const widgets = def.ui?.widgets || {};
  let layout = (def.ui?.layout || []).filter((l) => Array.isArray(l?.fields));
  const placed = new Set(layout.flatMap((l) => l.fields));
  const rest = Object.keys(props).filter((k) => !placed.has(k) && !derived.has(k));
  if (rest.length) layout = [...layout, { section: layout.length ? '' : def.title, fields: rest }];
  const controls = {};
  const form = el('form', { class: 'rform', novalidate: true });
  for (const sec of layout) {
    const set = el('fieldset', {}, sec.section ? el('legend', {}, sec.section) : null);
    const cols = el('div', { class: 'cols' });
    for (const key of sec.fields) {
      const s = props[key];
      if (!s || derived.has(key)) continue;
      const k = kindOf(s, widgets[key]);
      const c = control(key, s, k, record?.data?.[key]);
      if (locked.has(key)) {
        c.node.querySelectorAll?.('input, select, textarea, button').forEach((x) => { x.disabled = true; });
        if ('disabled' in c.node) c.node.disabled = true;
      } else controls[key] = c;
      const wide = ['textarea', 'subtable', 'multiselect', 'nps'].includes(k);
      cols.append(el('div', { class: 'fld', 'data-field': key, style: wide ? 'grid-column: 1 / -1' : undefined },
        el('label', { for: `f_${key}`, class: required.has(key) ? 'req' : '' }, s.title || key, locked.has(key) ? el('span', { class: 'muted', title: t('readonlyField') }, ' 🔒') : null),
        c.node, s.description ? el('div', { class: 'field-help' }, s.description) : null, el('div', { class: 'field-error', role: 'alert' })));
    }
    // A section whose fields are all computed (or hidden) is left out rather than drawn empty.
    if (!cols.children.length) continue;
    set.append(cols);
    form.append(set);
  }
  const status = el('div', { role: 'status' });
  if (onSubmit && !preview) {
    const submit = el('button', { class: 'primary', type: 'submit' }, submitLabel || t('submit'));
    form.append(el('div', { class: 'actions' }, submit, onCancel ? el('button', { type: 'button', class: 'cancel', onclick: onCancel }, t('cancel')) : null), status);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      // One submission at a time: a double click creates one record.
      if (submit.disabled) return;
      submit.disabled = true;
      submit.setAttribute('aria-busy', 'true');
      form.querySelectorAll('.fld').forEach((f) => { f.classList.remove('has-error'); f.querySelector('.field-error').textContent = ''; });
      status.className = ''; status.textContent = '';
      const data = {};
      for (const [k, c] of Object.entries(controls)) { const v = c.get(); if (v !== undefined) data[k] = v; }
      try {
        const msg = await onSubmit(data, Object.keys(controls));
        status.className = 'notice ok'; status.replaceChildren(msg || t('saved'));
      } catch (err) {
        const errors = err.errors || [];
        let placedAny = false;
        for (const fe of errors) {
          const key = (fe.pointer || '').split('/')[1];
          const f = key && form.querySelector(`.fld[data-field="${CSS.escape(key)}"]`);
          if (f) { f.classList.add('has-error'); f.querySelector('.field-error').textContent = fe.message; placedAny = true; }
        }
        status.className = 'notice error';
        status.textContent = placedAny && errors.length ? err.message : err.message || String(err);
        form.querySelector('.has-error input, .has-error select, .has-error textarea')?.focus();
      } finally {
        submit.disabled = false;
        submit.removeAttribute('aria-busy');
      }
    });
  }
  if (preview) form.querySelectorAll('input, select, textarea, button').forEach((x) => { x.tabIndex = -1; });
  box.append(form);
  return { form, values: () => Object.fromEntries(Object.entries(controls).map(([k, c]) => [k, c.get()]).filter(([, v]) => v !== undefined)) };
}
