// The workflow designer (states and transitions as an editable list, drawn
// as a diagram beside it) and the trigger designer (the kind of moment or
// event, condition, actions, and the message with a live preview). Both
// publish through the API, which checks them; its problems are shown at the
// inputs their pointers name.
import { t } from './i18n.js';
import { api, get, post } from './api.js';
import './code-editor.js';
import { el, svg } from './dom.js';
import { instant } from './format.js';
import { catalogOf, allForms, conditionInput, ready } from './builders.js';
import { actionList, actionContext, durationInput } from './actions.js';
import { whenInput, whenKind } from './moments.js';

/** What the action pickers offer: messages, workflows and roles, read once per page. */
async function pickLists() {
  const [messages, workflows, roles] = await Promise.all([get('/api/v1/messages'), get('/api/v1/workflows'), get('/api/v1/roles').catch(() => ({ items: [] }))]);
  const keys = roles.items.map((r) => r.key);
  return { messages: messages.items, workflows: workflows.items, roles: keys.length ? keys : ['admin', 'manager', 'staff'] };
}


/** An input bound to `obj[key]`; its `data-pointer` is where the server's problems about it point. */
function bound(obj, key, pointer, attrs = {}, onChange = () => {}) {
  const i = el('input', { value: obj[key] ?? '', 'data-pointer': pointer, ...attrs });
  i.addEventListener('input', () => { obj[key] = i.value === '' ? undefined : i.value; onChange(); });
  return i;
}

/** Shows a 422's problems at the inputs whose `data-pointer` is the longest prefix of each pointer. */
function showProblems(box, status, err) {
  box.querySelectorAll('.inline-error').forEach((x) => x.remove());
  box.querySelectorAll('[data-pointer]').forEach((x) => x.classList.remove('bad-input'));
  const inputs = [...box.querySelectorAll('[data-pointer]')];
  const unplaced = [];
  for (const e of err.errors || []) {
    const best = inputs.filter((i) => e.pointer === i.dataset.pointer || e.pointer.startsWith(`${i.dataset.pointer}/`)).sort((a, b) => b.dataset.pointer.length - a.dataset.pointer.length)[0];
    if (best) {
      best.classList.add('bad-input');
      best.insertAdjacentElement('afterend', el('div', { class: 'field-error inline-error' }, `${e.line ? `line ${e.line}: ` : ''}${e.message}`));
    } else unplaced.push(`${e.pointer}: ${e.message}`);
  }
  status.className = 'notice error';
  status.textContent = [err.message, ...unplaced].join(' — ');
}

async function publish(kind, key, isNew, def, box, status) {
  status.className = ''; status.textContent = '';
  const invalid = box.querySelector(':invalid');
  if (invalid) {
    status.className = 'notice error';
    status.textContent = `${invalid.dataset.pointer || ''}: ${invalid.validationMessage}`;
    invalid.focus();
    return null;
  }
  try {
    const saved = isNew ? await post(`/api/v1/${kind}s`, def) : await api('PUT', `/api/v1/${kind}s/${key}`, def);
    box.querySelectorAll('.inline-error').forEach((x) => x.remove());
    status.className = 'notice ok'; status.textContent = t('published', { v: saved.version });
    return saved;
  } catch (err) {
    showProblems(box, status, err);
    return null;
  }
}

async function listView(main, kind, title, describe) {
  const { items } = await get(`/api/v1/${kind}s`);
  const key = el('input', { name: 'new-key', placeholder: kind === 'workflow' ? 'pipeline' : 'birthday', pattern: '[a-z][a-z0-9_]*', style: 'max-width:220px' });
  main.innerHTML = '';
  main.append(el('div', { class: 'head' }, el('h1', {}, title), el('div', { class: 'actions' }, key,
    el('button', { class: 'primary', id: `new-${kind}`, onclick: () => { if (/^[a-z][a-z0-9_]*$/.test(key.value)) location.hash = `#/${kind}s/${key.value}?new=1`; } }, `+ ${t('create')}`))),
  items.length ? el('table', { class: 'list card', style: 'padding:0' }, el('tbody', {}, items.map((d) => el('tr', { 'data-def': d.key },
    el('td', {}, el('a', { href: `#/${kind}s/${d.key}` }, d.definition.title || d.key)), el('td', { class: 'muted' }, d.key), el('td', {}, describe(d.definition)), el('td', { class: 'muted' }, `v${d.version}`)))))
    : el('p', { class: 'muted' }, '—'));
}

export const workflowsView = (main) => listView(main, 'workflow', t('workflows'), (d) => `${d.form} · ${Object.keys(d.states || {}).length} ${t('states')}`);
export const triggersView = (main) => listView(main, 'trigger', t('triggers'), (d) => `${d.form} · ${t(`wk_${whenKind(d.when)}`)}`);

/** The diagram of a workflow: states left to right in the order they are reached, arrows for transitions. */
function diagram(def) {
  const keys = Object.keys(def.states || {});
  const order = [];
  const seen = new Set();
  const queue = [def.initial].filter((k) => keys.includes(k));
  while (queue.length) {
    const k = queue.shift();
    if (seen.has(k)) continue;
    seen.add(k); order.push(k);
    for (const tr of def.transitions || []) {
      const from = Array.isArray(tr.from) ? tr.from : [tr.from];
      if ((from.includes(k) || from.includes('*')) && keys.includes(tr.to) && !seen.has(tr.to)) queue.push(tr.to);
    }
  }
  keys.filter((k) => !seen.has(k)).forEach((k) => order.push(k));
  const W = 120; const H = 38; const GX = 70; const GY = 90; const perRow = 3;
  const pos = Object.fromEntries(order.map((k, i) => [k, { x: 20 + (i % perRow) * (W + GX), y: 30 + Math.floor(i / perRow) * (H + GY) }]));
  const width = 40 + Math.min(order.length, perRow) * (W + GX);
  const height = 60 + Math.ceil(order.length / perRow) * (H + GY);
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', role: 'img', 'aria-label': def.title || def.key, class: 'wf-diagram' });
  root.append(svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' }, svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#64748b' }))));
  (def.transitions || []).forEach((tr, n) => {
    const from = Array.isArray(tr.from) ? tr.from : [tr.from];
    for (const f of from.flatMap((x) => (x === '*' ? keys.filter((k) => !def.states[k]?.final) : [x]))) {
      const a = pos[f]; const b = pos[tr.to];
      if (!a || !b) continue;
      const x1 = a.x + W / 2; const y1 = a.y + H / 2; const x2 = b.x + W / 2; const y2 = b.y + H / 2;
      const bend = ((n % 3) - 1) * 22 + (f === tr.to ? 40 : 0);
      const mx = (x1 + x2) / 2 + (y2 === y1 ? 0 : bend); const my = (y1 + y2) / 2 - (y2 === y1 ? 26 + Math.abs(bend) : 0);
      // Start and end on the boxes' edges, not their centres.
      const dx = x2 - x1; const dy = y2 - y1; const len = Math.hypot(dx, dy) || 1;
      const sx = x1 + (dx / len) * (W / 2); const ex = x2 - (dx / len) * (W / 2);
      const sy = y1 + (dy / len) * (H / 2); const ey = y2 - (dy / len) * (H / 2);
      root.append(svg('path', { d: `M${sx},${sy} Q${mx},${my} ${ex},${ey}`, fill: 'none', stroke: tr.when ? '#94a3b8' : '#64748b', 'stroke-dasharray': tr.when ? '5 4' : '', 'marker-end': 'url(#arrow)' }));
      const label = svg('text', { x: mx, y: my + (y2 === y1 ? 10 : 0), 'text-anchor': 'middle', 'font-size': '11', fill: '#475569' });
      label.textContent = `${tr.title || tr.key}${tr.guard ? ' ◇' : ''}`;
      root.append(label);
    }
  });
  for (const k of order) {
    const s = def.states[k] || {};
    const p = pos[k];
    const initial = k === def.initial;
    root.append(svg('rect', { x: p.x, y: p.y, width: W, height: H, rx: s.final ? 20 : 8, fill: initial ? '#e8efff' : s.final ? '#e7f6ec' : '#fff', stroke: initial ? '#2563eb' : s.final ? '#15803d' : '#94a3b8', 'stroke-width': s.final ? 2 : 1.2, 'data-state': k }));
    const label = svg('text', { x: p.x + W / 2, y: p.y + H / 2 + 4, 'text-anchor': 'middle', 'font-size': '13', fill: '#1f2430' });
    label.textContent = `${s.title || k}${(s.timers || []).length ? ' ◷' : ''}`;
    root.append(label);
  }
  return root;
}

export async function workflowView(main, key, params) {
  const isNew = params.get('new') === '1';
  const defs = await allForms();
  await ready();
  const lists = await pickLists();
  const forms = Object.keys(defs);
  let def;
  if (isNew) def = { key, form: forms[0] || '', title: key, start: { on: 'manual' }, initial: 'open', states: { open: { title: '进行中' }, done: { title: '完成', final: true } }, transitions: [{ key: 'finish', title: '完成', from: 'open', to: 'done' }] };
  else def = (await get(`/api/v1/workflows/${key}`)).definition;
  let fresh = isNew;
  const status = el('div', { role: 'status' });
  const editor = el('div', { class: 'card wf-edit' });
  const picture = el('div', { class: 'card', style: 'position:sticky;top:12px' });
  const redraw = () => { picture.innerHTML = ''; picture.append(el('h2', {}, t('diagram')), diagram(def)); };
  main.innerHTML = '';
  main.append(el('div', { class: 'head' }, el('div', {}, el('h1', {}, def.title || key), el('div', { class: 'muted' }, `${t('workflows')} · ${key}`)),
    el('div', { class: 'actions' }, el('a', { class: 'btn', href: '#/workflows' }, t('workflows')),
      el('button', { class: 'primary', id: 'publish-workflow', onclick: async () => { if (await publish('workflow', key, fresh, def, editor, status)) { fresh = false; } } }, t('publish')))),
  status, el('div', { class: 'flow-grid' }, editor, picture));

  function draw() {
    editor.innerHTML = '';
    const formSel = el('select', { 'data-pointer': '/form' }, forms.map((f) => el('option', { value: f, selected: f === def.form }, f)));
    formSel.addEventListener('change', () => { def.form = formSel.value; draw(); });
    const catalog = defs[def.form] ? catalogOf(defs[def.form], { forms: defs }) : [];
    const ctx = actionContext({ form: def.form, forms: defs, ...lists, workflow: def.key, site: 'workflow' });
    const actions = (owner, k, pointer, label) => actionList(owner, k, ctx, { pointer, label });
    const startSel = el('select', { 'data-pointer': '/start/on', name: 'start-on' }, ['created', 'condition', 'manual'].map((o) => el('option', { value: o, selected: (def.start?.on || 'manual') === o }, t(`start_${o}`))));
    startSel.addEventListener('change', () => { def.start = { ...(def.start || {}), on: startSel.value }; });
    const cond = conditionInput({ value: def.start?.condition, catalog, label: 'start condition', pointer: '/start/condition', onChange: (src) => { def.start = { ...(def.start || {}), condition: src || undefined }; } });
    const initial = el('select', { 'data-pointer': '/initial', name: 'initial' }, Object.keys(def.states).map((s) => el('option', { value: s, selected: s === def.initial }, s)));
    initial.addEventListener('change', () => { def.initial = initial.value; redraw(); });
    editor.append(el('div', { class: 'row3' },
      el('div', {}, el('label', {}, t('label')), bound(def, 'title', '/title', {}, redraw)),
      el('div', {}, el('label', {}, t('forms')), formSel),
      el('div', {}, el('label', {}, t('start')), startSel)),
    el('label', {}, t('startCondition')), cond,
    el('label', {}, t('initial')), initial);

    editor.append(el('h2', { style: 'margin-top:18px' }, t('states')));
    for (const [sk, st] of Object.entries(def.states)) {
      const p = `/states/${sk}`;
      const fin = el('input', { type: 'checkbox', checked: !!st.final });
      fin.addEventListener('change', () => { st.final = fin.checked || undefined; redraw(); });
      const timers = el('div', {}, (st.timers || []).map((tm, i) => el('div', { class: 'timer row3' },
        el('div', {}, el('label', {}, t('after')), bound(tm, 'after', `${p}/timers/${i}/after`, { placeholder: '72h' })),
        el('div', {}, el('label', {}, t('every')), bound(tm, 'every', `${p}/timers/${i}/every`, { placeholder: '7d' })),
        el('div', { style: 'grid-column: 1 / -1' }, el('label', {}, t('actions')), actions(tm, 'actions', `${p}/timers/${i}/actions`, `timer-${sk}-${i}`),
          el('button', { class: 'small danger', style: 'margin-top:4px', onclick: () => { st.timers.splice(i, 1); draw(); redraw(); } }, `${t('removeItem')} ${t('timer')}`)))));
      editor.append(el('div', { class: 'state-box', 'data-state-row': sk },
        el('div', { class: 'row3' }, el('div', {}, el('label', {}, t('key')), el('input', { value: sk, disabled: true, 'data-pointer': p })),
          el('div', {}, el('label', {}, t('label')), bound(st, 'title', `${p}/title`, {}, redraw)),
          el('label', { class: 'check', style: 'margin-top:30px' }, fin, t('final'))),
        el('label', {}, t('onEnter')), actions(st, 'on_enter', `${p}/on_enter`, `enter-${sk}`), timers,
        el('div', { class: 'actions', style: 'margin-top:6px' },
          el('button', { class: 'small', onclick: () => { st.timers = [...(st.timers || []), { after: '24h', actions: [] }]; draw(); } }, `+ ${t('timer')}`),
          el('button', { class: 'small danger', onclick: () => { delete def.states[sk]; draw(); redraw(); } }, t('removeItem')))));
    }
    const newState = el('input', { placeholder: 'new_state', name: 'new-state', pattern: '[a-z][a-z0-9_]*', style: 'max-width:200px' });
    editor.append(el('div', { class: 'actions' }, newState, el('button', { class: 'small', id: 'add-state', onclick: () => { const k = newState.value.trim(); if (/^[a-z][a-z0-9_]*$/.test(k) && !def.states[k]) { def.states[k] = { title: k }; draw(); redraw(); } } }, `+ ${t('state')}`)));

    editor.append(el('h2', { style: 'margin-top:18px' }, t('transitions')));
    const stateKeys = Object.keys(def.states);
    def.transitions.forEach((tr, i) => {
      const p = `/transitions/${i}`;
      // One state, several (comma separated) or * (every state that is not final).
      const fromSel = el('input', { 'data-pointer': `${p}/from`, value: Array.isArray(tr.from) ? tr.from.join(', ') : tr.from ?? '', list: 'state-keys', name: 'from' });
      fromSel.addEventListener('input', () => { const v = fromSel.value.split(',').map((x) => x.trim()).filter(Boolean); tr.from = v.length > 1 ? v : v[0] ?? ''; redraw(); });
      const toSel = el('select', { 'data-pointer': `${p}/to` }, stateKeys.map((s) => el('option', { value: s, selected: tr.to === s }, s)));
      toSel.addEventListener('change', () => { tr.to = toSel.value; redraw(); });
      const guard = conditionInput({ value: tr.guard, catalog, label: 'guard', pointer: `${p}/guard`, emptyText: t('noGuard'), onChange: (src) => { tr.guard = src || undefined; redraw(); } });
      const when = conditionInput({ value: tr.when, catalog, label: 'when', pointer: `${p}/when`, emptyText: t('noAuto'), onChange: (src) => { tr.when = src || undefined; redraw(); } });
      editor.append(el('div', { class: 'state-box', 'data-transition-row': tr.key },
        el('div', { class: 'row4' }, el('div', {}, el('label', {}, t('key')), bound(tr, 'key', `${p}/key`, {}, redraw)), el('div', {}, el('label', {}, t('label')), bound(tr, 'title', `${p}/title`, {}, redraw)),
          el('div', {}, el('label', {}, t('from')), fromSel), el('div', {}, el('label', {}, t('to')), toSel)),
        el('label', {}, t('guard')), guard, el('label', {}, t('whenAuto')), when,
        el('label', {}, t('actions')), actions(tr, 'actions', `${p}/actions`, `transition-${i}`),
        el('button', { class: 'small danger', style: 'margin-top:6px', onclick: () => { def.transitions.splice(i, 1); draw(); redraw(); } }, t('removeItem'))));
    });
    editor.append(el('datalist', { id: 'state-keys' }, ['*', ...stateKeys].map((s) => el('option', { value: s }))));
    editor.append(el('button', { class: 'small', id: 'add-transition', onclick: () => { def.transitions.push({ key: `t${def.transitions.length + 1}`, from: stateKeys[0], to: stateKeys[stateKeys.length - 1] }); draw(); redraw(); } }, `+ ${t('transition')}`));
  }
  draw();
  redraw();
}

export async function triggerView(main, key, params) {
  const isNew = params.get('new') === '1';
  const defs = await allForms();
  await ready();
  const lists = await pickLists();
  const forms = Object.keys(defs);
  const messages = lists.messages;
  let def = isNew ? { key, form: forms[0] || '', title: key, when: { anniversary: 'birthday', at: '09:00', tz: 'Asia/Shanghai' }, actions: [{ notify: 'owner', ...(messages[0] ? { message: messages[0].key } : { title: t('reminderTitle') }) }] } : (await get(`/api/v1/triggers/${key}`)).definition;
  let fresh = isNew;
  const status = el('div', { role: 'status' });
  const editor = el('div', { class: 'card' });
  const side = el('div', { class: 'card' });
  main.innerHTML = '';
  main.append(el('div', { class: 'head' }, el('div', {}, el('h1', {}, def.title || key), el('div', { class: 'muted' }, `${t('triggers')} · ${key}`)),
    el('div', { class: 'actions' }, el('a', { class: 'btn', href: '#/triggers' }, t('triggers')),
      el('button', { class: 'primary', id: 'publish-trigger', onclick: async () => { if (await publish('trigger', key, fresh, def, editor, status)) fresh = false; } }, t('publish')))),
  status, el('div', { class: 'flow-grid' }, editor, side));

  const formSel = el('select', { 'data-pointer': '/form', name: 'form' }, forms.map((f) => el('option', { value: f, selected: f === def.form }, f)));
  formSel.addEventListener('change', () => { def.form = formSel.value; drawWhen(); drawCondition(); drawActions(); });
  const whenSlot = el('div');
  const kindSlot = el('div');
  const drawWhen = () => {
    const w = whenInput(def, defs[def.form], { onKind: () => drawActions() });
    kindSlot.replaceChildren(w.kindSel);
    whenSlot.replaceChildren(w.box);
  };
  const cond = el('div');
  const drawCondition = () => cond.replaceChildren(conditionInput({ value: def.condition, catalog: defs[def.form] ? catalogOf(defs[def.form], { forms: defs }) : [], label: 'condition', pointer: '/condition', onChange: (src) => { def.condition = src || undefined; } }));
  drawCondition();
  const actionsBox = el('div');
  const drawActions = () => actionsBox.replaceChildren(actionList(def, 'actions', actionContext({ form: def.form, forms: defs, ...lists, site: whenKind(def.when) === 'cron' ? 'cron' : 'trigger' }), { pointer: '/actions', label: 'trigger' }));
  drawActions();
  editor.append(el('div', { class: 'row3' }, el('div', {}, el('label', {}, t('label')), bound(def, 'title', '/title')), el('div', {}, el('label', {}, t('forms')), formSel), el('div', {}, el('label', {}, t('whenKind')), kindSlot)),
    el('label', {}, t('whenMoment')), whenSlot, el('label', {}, t('condition')), cond, el('label', {}, t('actions')), actionsBox,
    el('label', {}, t('maxLateness')), durationInput(def.max_lateness, (v) => { if (v) def.max_lateness = v; else delete def.max_lateness; }, 'max-lateness'), el('div', { class: 'field-help' }, t('maxLatenessHelp')));
  drawWhen();

  // The message: pick one, edit it, preview it against a sample or stored record.
  const msgSel = el('select', { name: 'message' }, messages.map((m) => el('option', { value: m.key }, m.key)));
  const named = def.actions?.find((a) => a.message)?.message;
  if (named) msgSel.value = named;
  const tpl = el('textarea', { rows: 7, name: 'template', spellcheck: 'false', style: 'font-family:var(--mono);font-size:12px' });
  const sample = el('textarea', { rows: 4, name: 'preview-sample', spellcheck: 'false', style: 'font-family:var(--mono);font-size:12px' }, '{"name": "张三", "birthday": "1990-05-10"}');
  const out = el('div', { class: 'preview-out', id: 'message-preview' });
  const mstatus = el('div', { role: 'status' });
  const load = () => { tpl.value = messages.find((m) => m.key === msgSel.value)?.definition.template || ''; render(); };
  let timer;
  async function render() {
    let record;
    try { record = JSON.parse(sample.value || '{}'); } catch (e) { out.className = 'result error'; out.textContent = e.message; return; }
    try {
      const r = await post('/api/v1/messages/preview', { template: tpl.value, record });
      out.className = 'preview-out';
      out.innerHTML = '';
      out.append(r.subject ? el('div', { class: 'subject' }, r.subject) : '', el('div', { class: 'body' }, r.body));
    } catch (err) {
      const e = err.errors?.[0];
      out.className = 'result error'; out.textContent = e ? `${e.line ? `line ${e.line}: ` : ''}${e.message}` : err.message;
    }
  }
  msgSel.addEventListener('change', load);
  tpl.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(render, 300); });
  sample.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(render, 300); });
  side.append(el('h2', {}, t('message')), msgSel, el('label', {}, t('template')), tpl, el('label', {}, t('sample')), sample,
    el('label', {}, t('preview')), out,
    el('div', { class: 'actions', style: 'margin-top:8px' }, el('button', { id: 'save-message', onclick: async () => {
      try {
        const s = await api('PUT', `/api/v1/messages/${msgSel.value}`, { template: tpl.value });
        const m = messages.find((x) => x.key === msgSel.value);
        if (m) m.definition = s.definition;
        mstatus.className = 'notice ok'; mstatus.textContent = t('published', { v: s.version });
      }
      catch (err) { mstatus.className = 'notice error'; mstatus.textContent = err.message; }
    } }, t('save'))), mstatus);
  if (messages.length) load();
  if (!isNew) main.append(await runsCard(key, def, defs));
}

/** A published trigger's next moments (for a chosen record, and the first due) and its recent runs, with why. */
async function runsCard(key, def, defs) {
  const form = defs[def.form] || {};
  const card = el('div', { class: 'card', style: 'margin-top:14px', id: 'trigger-runs' });
  const titleOf = (r) => String((form.title_field && r?.data?.[form.title_field]) || r?.id || '');
  const [records, occ] = await Promise.all([
    get(`/api/v1/forms/${def.form}/records?limit=50`).catch(() => ({ items: [] })),
    get(`/api/v1/occurrences?trigger=${encodeURIComponent(key)}&limit=20`).catch(() => ({ items: [] })),
  ]);
  const byId = new Map(records.items.map((r) => [r.id, r]));
  const next = el('div', { id: 'record-next', 'aria-live': 'polite' });
  const recordSel = el('select', { name: 'preview-record', 'aria-label': t('pickRecord') }, records.items.map((r) => el('option', { value: r.id }, titleOf(r))));
  const showNext = async () => {
    if (!recordSel.value) { next.textContent = ''; return; }
    const r = await get(`/api/v1/forms/${def.form}/records/${recordSel.value}/reminders`).catch(() => ({ items: [] }));
    const mine = r.items.find((x) => x.trigger === key);
    next.textContent = mine ? `${t('forRecord')}${instant(mine.at)}` : t('noNextMoment');
  };
  recordSel.addEventListener('change', showNext);
  const from = new Date();
  const to = new Date(from.getTime() + 62 * 86400e3);
  const due = await get(`/api/v1/reminders?from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`).catch(() => ({ items: [] }));
  const first = due.items.filter((x) => x.trigger === key).slice(0, 10);
  card.append(el('h2', {}, t('nextMoments')),
    records.items.length ? el('div', { class: 'actions' }, recordSel, next) : null,
    el('h3', {}, t('nextDue')),
    first.length ? el('ul', { id: 'next-due' }, first.map((x) => el('li', {}, instant(x.at), ' · ', el('a', { href: `#/forms/${x.form}/records/${x.record_id}` }, x.title || x.record_id)))) : el('p', { class: 'muted' }, t('none')),
    el('h2', { style: 'margin-top:14px' }, t('occurrences')),
    occ.items.length ? el('table', { class: 'list', id: 'occurrences' }, el('tbody', {}, occ.items.map((o) => el('tr', { 'data-status': o.status },
      el('td', {}, instant(o.at)), el('td', {}, byId.has(o.record_id) ? el('a', { href: `#/forms/${def.form}/records/${o.record_id}` }, titleOf(byId.get(o.record_id))) : o.record_id === '00000000-0000-0000-0000-000000000000' ? t('cronRun') : el('a', { href: `#/forms/${def.form}/records/${o.record_id}` }, o.record_id.slice(0, 8))),
      el('td', {}, el('span', { class: o.status === 'fired' ? 'tag ok' : 'tag' }, t(`oc_${o.status}`))))))) : el('p', { class: 'muted' }, t('noOccurrences')));
  showNext();
  return card;
}
