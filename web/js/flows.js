// The workflow designer (states and transitions as an editable list, drawn
// as a diagram beside it) and the trigger designer (the kind of moment or
// event, condition, actions, and the message with a live preview). Both
// publish through the API, which checks them; its problems are shown at the
// inputs their pointers name.
import { t } from './i18n.js';
import { api, get, post } from './api.js';
import { el, confirmAction, showProblems, problemText } from './dom.js';
import { instant } from './format.js';
import { catalogOf, allForms, conditionInput, ready } from './builders.js';
import { actionList, actionContext, durationInput, pickLists } from './actions.js';
import { whenInput, whenKind } from './moments.js';



/** An input bound to `obj[key]`; its `data-pointer` is where the server's problems about it point. */
function bound(obj, key, pointer, attrs = {}, onChange = () => {}) {
  const i = el('input', { value: obj[key] ?? '', 'data-pointer': pointer, ...attrs });
  i.addEventListener('input', () => { obj[key] = i.value === '' ? undefined : i.value; onChange(); });
  return i;
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
  const [{ items }, forms] = await Promise.all([get(`/api/v1/${kind}s`), allForms()]);
  const formTitle = (f) => forms[f]?.title || f;
  const key = el('input', { name: 'new-key', placeholder: kind === 'workflow' ? 'pipeline' : 'birthday', pattern: '[a-z][a-z0-9_]*', style: 'max-width:220px' });
  main.innerHTML = '';
  main.append(el('div', { class: 'head' }, el('h1', {}, title), el('div', { class: 'actions' }, key,
    el('button', { class: 'primary', id: `new-${kind}`, onclick: () => { if (/^[a-z][a-z0-9_]*$/.test(key.value)) location.hash = `#/${kind}s/${key.value}?new=1`; } }, `+ ${t('create')}`))),
  items.length ? el('table', { class: 'list card', style: 'padding:0' }, el('tbody', {}, items.map((d) => el('tr', { 'data-def': d.key },
    el('td', {}, el('a', { href: `#/${kind}s/${d.key}` }, d.definition.title || d.key)), el('td', { class: 'muted' }, d.key), el('td', {}, describe(d.definition, formTitle)), el('td', { class: 'muted' }, `v${d.version}`)))))
    : el('p', { class: 'muted' }, '—'));
}

export const workflowsView = (main) => listView(main, 'workflow', t('workflows'), (d, form) => `${form(d.form)} · ${Object.keys(d.states || {}).length} ${t('states')}`);
export const triggersView = (main) => listView(main, 'trigger', t('triggers'), (d, form) => `${form(d.form)} · ${t(`wk_${whenKind(d.when)}`)}${d.enabled === false ? ` · ${t('disabledTag')}` : ''}`);

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
    el('div', { class: 'actions' }, isNew ? null : onOff(), el('a', { class: 'btn', href: '#/triggers' }, t('triggers')),
      el('button', { class: 'primary', id: 'publish-trigger', onclick: async () => { if (await publish('trigger', key, fresh, def, editor, status)) fresh = false; } }, t('publish')))),
  status, el('div', { class: 'flow-grid' }, editor, side));

  /** 启用 / 停用 at once: the stored version with only `enabled` changed, so edits not yet published stay unpublished. */
  function onOff() {
    const box = el('input', { type: 'checkbox', role: 'switch', name: 'enabled', checked: def.enabled !== false });
    box.addEventListener('change', async () => {
      const on = box.checked;
      if (!on && !(await confirmAction(t('confirmDisable', { x: def.title || key }), { ok: t('disable') }))) { box.checked = true; return; }
      try {
        const stored = (await get(`/api/v1/triggers/${key}`)).definition;
        if (on) delete stored.enabled; else stored.enabled = false;
        const saved = await api('PUT', `/api/v1/triggers/${key}`, stored);
        if (on) delete def.enabled; else def.enabled = false;
        status.className = 'notice ok'; status.textContent = t(on ? 'enabledNow' : 'disabledNow', { v: saved.version });
      } catch (err) { box.checked = !on; status.className = 'notice error'; status.textContent = err.message; }
    });
    return el('label', { class: 'check switch', id: 'trigger-enabled' }, box, t('enabledLabel'));
  }

  const formSel = el('select', { 'data-pointer': '/form', name: 'form' }, forms.map((f) => el('option', { value: f, selected: f === def.form }, defs[f]?.title || f)));
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
      out.className = 'result error'; out.textContent = e ? problemText(e) : err.message;
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
