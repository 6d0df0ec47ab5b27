// The action builder: what a workflow or trigger does, picked from lists —
// the kind of action, then its recipient, message, form, fields and
// durations — with a one-line summary of each in plain words. The actions
// stay the JSON the engine reads; an action the builder does not know how to
// show (extra keys, a script where a value is expected) opens as JSON with
// a notice, and an action nobody touches is saved as it was.
import { t } from './i18n.js';
import { el, kindOf, problemText } from './dom.js';
import { people, nameOf, roleTitle } from './people.js';
import { api, get, post } from './api.js';

export const ACTION_KINDS = ['notify', 'create_task', 'email', 'set', 'assign', 'start_workflow', 'transition', 'create_record', 'webhook', 'digest'];
const FIELDS = { notify: ['notify', 'message', 'title'], email: ['email'], webhook: ['webhook'], create_task: ['create_task'], set: ['set'], create_record: ['create_record'], start_workflow: ['start_workflow'], transition: ['transition'], assign: ['assign'], digest: ['digest'] };
const OBJECT_KEYS = { email: ['to', 'message'], webhook: ['url', 'message', 'format'], create_task: ['title', 'assignee', 'due', 'form', 'description'], create_record: ['form', 'data'], transition: ['workflow', 'transition'], digest: ['to', 'message', 'title', 'email', 'limit'] };

const kindOfAction = (a) => ACTION_KINDS.find((k) => a && typeof a === 'object' && k in a);

/** A literal value as the script `set` stores (`"text"`, `12`, `true`), or undefined for any other script. */
export function literalOf(script) {
  if (typeof script !== 'string') return undefined;
  const s = script.trim();
  if (s === 'true' || s === 'false') return s === 'true';
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  if (/^"(?:[^"\\]|\\.)*"$/.test(s)) { try { return JSON.parse(s); } catch { return undefined; } }
  if (s === '()') return null;
  return undefined;
}
const scriptOfLiteral = (v) => (v === null || v === undefined || v === '' ? '()' : typeof v === 'string' ? JSON.stringify(v) : String(v));
const SPECIAL = { 'now()': 'setNow', 'today()': 'setToday' };

/** Whether the builder can show `a` field by field. */
export function buildable(a) {
  const kind = kindOfAction(a);
  if (!kind) return false;
  if (Object.keys(a).some((k) => !FIELDS[kind].includes(k))) return false;
  const body = a[kind];
  if (OBJECT_KEYS[kind]) {
    if (!body || typeof body !== 'object' || Array.isArray(body)) return false;
    if (Object.keys(body).some((k) => !OBJECT_KEYS[kind].includes(k))) return false;
  }
  const simpleData = (d) => d && typeof d === 'object' && !Array.isArray(d) && Object.values(d).every((v) => literalOf(v) !== undefined || SPECIAL[v?.trim?.()] || /^record\.[a-z][a-z0-9_]*$/.test(v?.trim?.() || ''));
  if (kind === 'set') return simpleData(body);
  if (kind === 'create_record') return !body.data || simpleData(body.data);
  if (kind === 'assign') return body && typeof body === 'object' && Object.keys(body).length === 1 && (typeof body.role === 'string' || typeof body.user === 'string');
  if (kind === 'start_workflow' || kind === 'notify') return typeof body === 'string';
  return true;
}

/** A recipient (owner, manager, role:R, field:F, a user) in words. */
export function recipientText(r, ctx) {
  if (r === 'owner') return t('rcpOwner');
  if (r === 'manager') return t('rcpManager');
  if (typeof r !== 'string') return '?';
  if (r.startsWith('role:')) return t('rcpRoleOf', { r: roleTitle(r.slice(5)) });
  if (r.startsWith('field:')) return t('rcpFieldOf', { f: ctx.fieldTitle(r.slice(6)) });
  return nameOf(r);
}

const durationText = (d) => {
  const m = /^(\d+)([mhdw])$/.exec(d || '');
  return m ? `${m[1]} ${t(`unit_${m[2]}`)}` : d || '';
};
const messageText = (key, ctx) => (key ? `${t('msgTemplate')}「${ctx.messageTitle(key)}」` : '');

/** One line saying what an action does: 通知负责人的上级：模板「黄金72小时」. */
export function summary(a, ctx) {
  const kind = kindOfAction(a);
  const b = a?.[kind];
  switch (kind) {
    case 'notify': return `${t('sumNotify', { to: recipientText(b, ctx) })}：${a.message ? messageText(a.message, ctx) : `「${a.title || ''}」`}`;
    case 'email': return `${t('sumEmail', { to: recipientText(b?.to, ctx) })}：${messageText(b?.message, ctx)}`;
    case 'webhook': return `${t('sumWebhook', { f: t(`fmt_${b?.format || 'json'}`) })}${b?.message ? `：${messageText(b.message, ctx)}` : ''}`;
    case 'create_task': return `${t('sumTask', { title: b?.title || '', to: recipientText(b?.assignee, ctx) })}${b?.due ? t('sumDue', { d: durationText(b.due) }) : ''}${b?.form ? t('sumTaskForm', { f: ctx.formTitle(b.form) }) : ''}`;
    case 'set': return t('sumSet', { x: Object.entries(b || {}).map(([f, v]) => `${ctx.fieldTitle(f)} = ${valueText(v, ctx)}`).join('，') });
    case 'create_record': return t('sumCreate', { f: ctx.formTitle(b?.form) });
    case 'start_workflow': return t('sumStart', { w: ctx.workflowTitle(b) });
    case 'transition': return t('sumTransition', { w: ctx.workflowTitle(b?.workflow || ctx.workflow), x: b?.transition || '' });
    case 'assign': return b?.role ? t('sumAssignRole', { r: roleTitle(b.role) }) : b?.user ? t('sumAssignUser', { u: nameOf(b.user) }) : t('sumAssignScript');
    case 'digest': return `${t('sumDigest', { to: recipientText(b?.to, ctx) })}${b?.email ? t('sumAlsoEmail') : ''}`;
    default: return t('sumUnknown');
  }
}

function valueText(script, ctx) {
  const s = typeof script === 'string' ? script.trim() : script;
  if (SPECIAL[s]) return t(SPECIAL[s]);
  const f = /^record\.([a-z][a-z0-9_]*)$/.exec(s || '');
  if (f) return t('valueOfField', { f: ctx.fieldTitle(f[1]) });
  const v = literalOf(s);
  if (v === true) return t('yes');
  if (v === false) return t('no');
  if (v === null) return t('cleared');
  return v === undefined ? String(s) : String(v);
}

/**
 * The editing context of an action list: `form` (the record's form key),
 * `forms` (key → definition), `messages` ([{key, definition}]), `workflows`
 * ([{key, definition}]), `roles` (keys), `workflow` (the running workflow,
 * in a workflow's own actions), `site` ('workflow' | 'trigger' | 'cron').
 */
export function actionContext({ form, forms, messages, workflows, roles, workflow, site }) {
  const def = forms[form] || {};
  const props = def.schema?.properties || {};
  const widgets = def.ui?.widgets || {};
  const fieldTitle = (f, d = def) => d.schema?.properties?.[f]?.title || d.ui?.widgets?.[f]?.title || f;
  return {
    form, forms, messages, workflows, roles, workflow, site,
    fieldTitle,
    formTitle: (k) => forms[k]?.title || k || '',
    messageTitle: (k) => { const m = messages.find((x) => x.key === k); const subject = /^subject:\s*(.*)$/m.exec(m?.definition?.template || '')?.[1]; return m?.definition?.title || (subject ? `${k} · ${subject}` : k); },
    workflowTitle: (k) => workflows.find((w) => w.key === k)?.definition?.title || k || '',
    fields: (formKey = form) => Object.entries(forms[formKey]?.schema?.properties || {}).map(([k, s]) => ({ key: k, title: s.title || k, kind: kindOf(s, forms[formKey]?.ui?.widgets?.[k]), schema: s })),
    userFields: () => Object.entries(props).filter(([k, s]) => kindOf(s, widgets[k]) === 'user').map(([k, s]) => [k, s.title || k]),
    emailFields: () => Object.entries(props).filter(([, s]) => s.format === 'email').map(([k, s]) => [k, s.title || k]),
  };
}

const select = (name, options, value, onChange, attrs = {}) => {
  const s = el('select', { name, ...attrs }, options.map(([v, label]) => el('option', { value: v, selected: v === value }, label)));
  if (value !== undefined && value !== '' && !options.some(([v]) => v === value)) s.append(el('option', { value, selected: true }, String(value)));
  s.addEventListener('change', () => onChange(s.value));
  return s;
};
const labelled = (label, ...input) => el('div', { class: 'ab-field' }, el('label', {}, label), ...input);

/** A recipient picker: 负责人 / 负责人的上级 / 某角色 / 某成员 / 记录里的人员（或邮箱）字段. */
function recipientInput(value, set, ctx, { emails = false, name = 'recipient' } = {}) {
  const box = el('span', { class: 'ab-rcp' });
  const kind = (v) => (v === 'owner' || v === 'manager' ? v : v?.startsWith?.('role:') ? 'role' : v?.startsWith?.('field:') ? 'field' : v ? 'user' : 'owner');
  const draw = () => {
    const k = kind(value);
    const main = select(`${name}-kind`, [['owner', t('rcpOwner')], ['manager', t('rcpManager')], ['role', t('rcpRole')], ['user', t('rcpUser')], ['field', t('rcpField')]], k, (nk) => {
      value = nk === 'role' ? `role:${ctx.roles[0] || 'staff'}` : nk === 'user' ? people()[0]?.email || '' : nk === 'field' ? `field:${(emails ? [...ctx.emailFields(), ...ctx.userFields()] : ctx.userFields())[0]?.[0] || ''}` : nk;
      set(value); draw();
    }, { 'aria-label': t('recipient') });
    let detail = null;
    if (k === 'role') detail = select(`${name}-role`, ctx.roles.map((r) => [r, roleTitle(r)]), value.slice(5), (r) => { value = `role:${r}`; set(value); }, { 'aria-label': t('rcpRole') });
    if (k === 'user') detail = select(`${name}-user`, people().map((u) => [u.email, nameOf(u.email)]), value, (u) => { value = u; set(value); }, { 'aria-label': t('rcpUser') });
    if (k === 'field') detail = select(`${name}-field`, emails ? [...ctx.emailFields(), ...ctx.userFields()] : ctx.userFields(), value.slice(6), (f) => { value = `field:${f}`; set(value); }, { 'aria-label': t('rcpField') });
    box.replaceChildren(main, detail || '');
  };
  draw();
  return box;
}

/** A duration as a number and a unit (72 小时, 7 天). */
export function durationInput(value, set, name, pointer) {
  const m = /^(\d+)([mhdw])$/.exec(value || '');
  let n = m ? m[1] : '', u = m ? m[2] : 'd';
  const num = el('input', { type: 'number', min: 1, step: 1, value: n, name, class: 'cb-num', 'aria-label': t('duration'), 'data-pointer': pointer });
  const emit = () => set(num.value ? `${num.value}${u}` : undefined);
  num.addEventListener('input', () => { n = num.value; emit(); });
  const unit = select(`${name}-unit`, ['m', 'h', 'd', 'w'].map((x) => [x, t(`unit_${x}`)]), u, (x) => { u = x; emit(); }, { 'aria-label': t('unit') });
  return el('span', { class: 'ab-dur' }, num, unit);
}

/** A message picked from the list, or written on the spot (新建) or looked at and changed (预览), with a live preview on a stored record. */
function messageInput(value, set, ctx, { optional = false, name = 'message' } = {}) {
  const box = el('span', { class: 'ab-msg' });
  const draw = () => {
    const sel = select(name, [...(optional ? [['', t('noMessage')]] : []), ...ctx.messages.map((m) => [m.key, ctx.messageTitle(m.key)])], value ?? '', (v) => { value = v || undefined; set(value); }, { 'aria-label': t('msgTemplate') });
    box.replaceChildren(sel,
      el('button', { type: 'button', class: 'small', 'data-new-message': '', onclick: () => messageDialog(null, ctx, (k) => { value = k; set(k); draw(); }) }, t('newMessage')),
      value ? el('button', { type: 'button', class: 'small', 'data-edit-message': '', onclick: () => messageDialog(value, ctx, () => draw()) }, t('previewMessage')) : '');
  };
  draw();
  return box;
}

/** The dialog that writes (key null) or changes a message template, previewed as it is typed. */
async function messageDialog(key, ctx, done) {
  const existing = key ? ctx.messages.find((m) => m.key === key) : null;
  const taken = new Set(ctx.messages.map((m) => m.key));
  let n = 1;
  while (taken.has(`message_${n}`)) n++;
  const keyInput = el('input', { name: 'message-key', value: key || `message_${n}`, pattern: '[a-z][a-z0-9_]*', disabled: !!key, 'aria-label': t('key') });
  const tf = ctx.forms[ctx.form]?.title_field;
  const area = el('textarea', { rows: 6, name: 'message-template', class: 'mono', 'aria-label': t('template') });
  area.value = existing?.definition?.template ?? `subject: ${t('messageSubjectExample')}${tf ? `{{ record.${tf} }}` : ''}\n`;
  const out = el('div', { class: 'preview-out', id: 'message-dialog-preview', 'aria-live': 'polite' });
  const err = el('div', { class: 'field-error', role: 'alert' });
  const sample = await get(`/api/v1/forms/${ctx.form}/records?limit=1`).catch(() => ({ items: [] }));
  const rec = sample.items[0];
  let timer;
  const render = async () => {
    try {
      const r = await post('/api/v1/messages/preview', rec ? { template: area.value, form: ctx.form, record_id: rec.id } : { template: area.value, record: {} });
      out.replaceChildren(r.subject ? el('div', { class: 'subject' }, r.subject) : '', el('div', { class: 'body' }, r.body));
      err.textContent = '';
    } catch (e) { err.textContent = e.errors?.[0] ? problemText(e.errors[0]) : e.message; }
  };
  area.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(render, 300); });
  const d = el('dialog', { class: 'confirm message-dialog', 'aria-label': t('msgTemplate') });
  const save = el('button', { type: 'button', class: 'primary', id: 'message-save' }, t('save'));
  save.addEventListener('click', async () => {
    try {
      const k = keyInput.value.trim();
      const saved = key ? await api('PUT', `/api/v1/messages/${k}`, { template: area.value }) : await post('/api/v1/messages', { key: k, template: area.value });
      if (existing) existing.definition = saved.definition; else ctx.messages.push({ key: k, definition: saved.definition });
      d.close(); d.remove(); done(k);
    } catch (e) { err.textContent = [e.message, ...(e.errors || []).map(problemText)].join(' — '); }
  });
  d.append(el('h3', {}, key ? `${t('msgTemplate')} · ${key}` : t('newMessage')), el('label', {}, t('key')), keyInput,
    el('label', {}, t('template')), area, err, el('label', {}, rec ? t('previewOn', { x: (tf && rec.data[tf]) || rec.id }) : t('preview')), out,
    el('div', { class: 'actions', style: 'justify-content:flex-end;margin-top:10px' }, el('button', { type: 'button', onclick: () => { d.close(); d.remove(); } }, t('cancel')), save));
  document.body.append(d);
  d.showModal();
  render();
}

/** `{field: script}` with a value input by the field's kind (or now/today, or another field's value). */
function assignmentsInput(data, ctx, formKey, changed, name) {
  const box = el('div', { class: 'ab-assign' });
  const draw = () => {
    const fields = ctx.fields(formKey);
    const rows = Object.entries(data).map(([f, script], i) => {
      const info = fields.find((x) => x.key === f);
      const fieldSel = select(`${name}-field-${i}`, fields.map((x) => [x.key, x.title]), f, (nf) => {
        const entries = Object.entries(data).map(([k, v]) => (k === f ? [nf, '()'] : [k, v]));
        for (const k of Object.keys(data)) delete data[k];
        Object.assign(data, Object.fromEntries(entries));
        changed(); draw();
      }, { 'aria-label': t('field') });
      return el('div', { class: 'cb-row', 'data-assign': f }, fieldSel, '=', valueInput(info, script, (s) => { data[f] = s; changed(); }, `${name}-value-${i}`, ctx),
        el('button', { type: 'button', class: 'small plain', 'aria-label': t('removeItem'), onclick: () => { delete data[f]; changed(); draw(); } }, '×'));
    });
    const free = fields.find((x) => !(x.key in data));
    box.replaceChildren(...rows, free ? el('button', { type: 'button', class: 'small', 'data-add-assign': '', onclick: () => { data[free.key] = '()'; changed(); draw(); } }, `+ ${t('addAssign')}`) : '');
  };
  draw();
  return box;
}

function valueInput(info, script, set, name, ctx) {
  const s = typeof script === 'string' ? script.trim() : '';
  const source = SPECIAL[s] ? s : /^record\./.test(s) ? 'field' : 'value';
  const box = el('span', { class: 'ab-value' });
  const kind = info?.kind;
  const draw = (src) => {
    const how = select(`${name}-how`, [['value', t('setValue')], ...(kind === 'date' || kind === 'datetime' ? [[kind === 'date' ? 'today()' : 'now()', t(kind === 'date' ? 'setToday' : 'setNow')]] : []), ['field', t('setFromField')]], src, (v) => {
      if (v === 'field') { set(`record.${ctx.fields().find((x) => x.kind === kind)?.key || ctx.fields()[0]?.key}`); draw('field'); } else if (v === 'value') { set('()'); draw('value'); } else { set(v); draw(v); }
    }, { 'aria-label': t('valueSource') });
    let input = null;
    if (src === 'field') {
      input = select(`${name}-from`, ctx.fields().map((x) => [x.key, x.title]), s.replace(/^record\./, ''), (f) => set(`record.${f}`), { 'aria-label': t('field') });
    } else if (src === 'value') {
      const v = literalOf(script);
      if (kind === 'checkbox') input = select(name, [['true', t('yes')], ['false', t('no')]], String(v === true), (x) => set(x), { 'aria-label': t('value') });
      else if (info?.schema?.enum) input = select(name, [['()', t('cleared')], ...info.schema.enum.map((x) => [JSON.stringify(x), x])], v === null || v === undefined ? '()' : JSON.stringify(v), (x) => set(x), { 'aria-label': t('value') });
      else if (kind === 'user') input = select(name, [['()', t('cleared')], ...people().map((u) => [JSON.stringify(u.email), nameOf(u.email)])], v ? JSON.stringify(v) : '()', (x) => set(x), { 'aria-label': t('value') });
      else {
        const numeric = ['number', 'money', 'rating', 'nps'].includes(kind);
        const i = el('input', { name, value: v ?? '', type: numeric ? 'number' : kind === 'date' ? 'date' : 'text', step: 'any', 'aria-label': t('value') });
        i.addEventListener('input', () => set(i.value === '' ? '()' : numeric ? String(Number(i.value)) : JSON.stringify(i.value)));
        input = i;
      }
    }
    box.replaceChildren(how, input || '');
  };
  draw(source);
  return box;
}

/** The inputs of one action of a kind the builder shows. */
function actionFields(a, kind, ctx, changed, redraw, p) {
  const b = a[kind];
  const set = (obj, k) => (v) => { if (v === undefined || v === '') delete obj[k]; else obj[k] = v; changed(); };
  const text = (obj, k, label, attrs = {}) => {
    const i = el(attrs.rows ? 'textarea' : 'input', { name: `${p}-${k}`, value: obj[k] ?? '', 'data-pointer': `${ctx.pointer}/${kind}/${k}`, ...attrs });
    if (attrs.rows) i.value = obj[k] ?? '';
    i.addEventListener('input', () => set(obj, k)(i.value));
    return labelled(label, i);
  };
  switch (kind) {
    case 'notify': {
      const useTitle = !a.message;
      const how = select(`${p}-notify-how`, [['message', t('useMessage')], ['title', t('useTitle')]], useTitle ? 'title' : 'message', (v) => {
        if (v === 'message') { delete a.title; a.message = ctx.messages[0]?.key; } else { delete a.message; a.title = a.title || t('reminderTitle'); }
        changed(); redraw();
      }, { 'aria-label': t('notifyHow') });
      return [labelled(t('recipient'), recipientInput(b, (v) => { a.notify = v; changed(); }, ctx, { name: `${p}-to` })),
        labelled(t('notifyHow'), how, useTitle ? null : messageInput(a.message, set(a, 'message'), ctx, { name: `${p}-message` })),
        useTitle ? text(a, 'title', t('notifyTitle'), { placeholder: '{{ record.name }}' }) : null];
    }
    case 'email':
      return [labelled(t('recipient'), recipientInput(b.to, set(b, 'to'), ctx, { emails: true, name: `${p}-to` })), labelled(t('msgTemplate'), messageInput(b.message, set(b, 'message'), ctx, { name: `${p}-message` }))];
    case 'webhook':
      return [text(b, 'url', t('webhookUrl'), { placeholder: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…', type: 'url' }),
        labelled(t('webhookFormat'), select(`${p}-format`, ['json', 'wecom', 'dingtalk', 'feishu'].map((f) => [f, t(`fmt_${f}`)]), b.format || 'json', (v) => set(b, 'format')(v === 'json' ? undefined : v))),
        labelled(t('msgTemplate'), messageInput(b.message, set(b, 'message'), ctx, { optional: true, name: `${p}-message` }))];
    case 'create_task':
      return [text(b, 'title', t('taskTitle'), { placeholder: '回访：{{ record.name }}' }),
        labelled(t('assignee'), recipientInput(b.assignee, set(b, 'assignee'), ctx, { name: `${p}-assignee` })),
        labelled(t('taskDue'), durationInput(b.due, set(b, 'due'), `${p}-due`)),
        labelled(t('taskForm'), select(`${p}-form`, [['', t('noTaskForm')], ...Object.entries(ctx.forms).map(([k, d]) => [k, d.title || k])], b.form || '', set(b, 'form'))),
        text(b, 'description', t('taskDescription'), { rows: 2 })];
    case 'set':
      return [assignmentsInput(b, ctx, ctx.form, changed, `${p}-set`)];
    case 'create_record': {
      b.data ||= {};
      return [labelled(t('forms'), select(`${p}-form`, Object.entries(ctx.forms).map(([k, d]) => [k, d.title || k]), b.form, (v) => { b.form = v; b.data = {}; changed(); redraw(); })),
        labelled(t('recordData'), assignmentsInput(b.data, ctx, b.form, changed, `${p}-data`))];
    }
    case 'start_workflow':
      return [labelled(t('workflows'), select(`${p}-workflow`, ctx.workflows.filter((w) => w.definition.form === ctx.form).map((w) => [w.key, w.definition.title || w.key]), b, (v) => { a.start_workflow = v; changed(); }))];
    case 'transition': {
      const wf = b.workflow || ctx.workflow;
      const w = ctx.workflows.find((x) => x.key === wf);
      return [ctx.site === 'workflow' ? null : labelled(t('workflows'), select(`${p}-workflow`, ctx.workflows.filter((x) => x.definition.form === ctx.form).map((x) => [x.key, x.definition.title || x.key]), b.workflow || '', (v) => { b.workflow = v; changed(); redraw(); })),
        labelled(t('transition'), select(`${p}-transition`, (w?.definition.transitions || []).map((x) => [x.key, x.title || x.key]), b.transition, set(b, 'transition')))];
    }
    case 'assign': {
      const how = b.role !== undefined ? 'role' : 'user';
      return [labelled(t('assignHow'), select(`${p}-assign-how`, [['role', t('assignRoundRobin')], ['user', t('assignUser')]], how, (v) => { a.assign = v === 'role' ? { role: ctx.roles[0] || 'staff' } : { user: people()[0]?.email || '' }; changed(); redraw(); })),
        how === 'role' ? labelled(t('rcpRole'), select(`${p}-role`, ctx.roles.map((r) => [r, roleTitle(r)]), b.role, set(b, 'role'))) : labelled(t('rcpUser'), select(`${p}-user`, people().map((u) => [u.email, nameOf(u.email)]), b.user, set(b, 'user')))];
    }
    case 'digest': {
      const email = el('input', { type: 'checkbox', checked: !!b.email, name: `${p}-email` });
      email.addEventListener('change', () => set(b, 'email')(email.checked || undefined));
      const limit = el('input', { type: 'number', min: 1, max: 1000, value: b.limit ?? '', name: `${p}-limit`, placeholder: '100', class: 'cb-num' });
      limit.addEventListener('input', () => set(b, 'limit')(limit.value ? Number(limit.value) : undefined));
      return [labelled(t('recipient'), recipientInput(b.to, set(b, 'to'), ctx, { name: `${p}-to` })),
        labelled(t('msgTemplate'), messageInput(b.message, set(b, 'message'), ctx, { optional: true, name: `${p}-message` })),
        b.message ? null : text(b, 'title', t('notifyTitle'), { placeholder: '本周流失风险客户 {{ count }} 位' }),
        el('label', { class: 'check' }, email, t('digestEmail')), labelled(t('digestLimit'), limit)];
    }
    default: return [];
  }
}

/** A new action of a kind, filled with the most likely choices. */
function fresh(kind, ctx) {
  const msg = ctx.messages[0]?.key;
  const tf = ctx.forms[ctx.form]?.title_field;
  const x = tf ? `{{ record.${tf} }}` : '';
  switch (kind) {
    case 'notify': return msg ? { notify: 'owner', message: msg } : { notify: 'owner', title: t('notifyTitleDefault', { x }) };
    case 'email': return { email: { to: ctx.emailFields()[0] ? `field:${ctx.emailFields()[0][0]}` : 'owner', message: msg } };
    case 'webhook': return { webhook: { url: '', format: 'wecom' } };
    case 'create_task': return { create_task: { title: t('taskTitleDefault', { x }), assignee: 'owner', due: '1d' } };
    case 'set': return { set: {} };
    case 'create_record': { const f = Object.keys(ctx.forms)[0]; return { create_record: { form: f, data: {} } }; }
    case 'start_workflow': return { start_workflow: ctx.workflows.find((w) => w.definition.form === ctx.form)?.key || '' };
    case 'transition': return { transition: ctx.site === 'workflow' ? { transition: '' } : { workflow: '', transition: '' } };
    case 'assign': return { assign: { role: ctx.roles.includes('staff') ? 'staff' : ctx.roles[0] || 'staff' } };
    case 'digest': return { digest: { to: 'owner', title: t('digestTitleDefault') } };
    default: return {};
  }
}

/**
 * An editable list of actions bound to `owner[key]` (an array), each a card
 * with its kind, its inputs and a one-line summary. `pointer` is where the
 * server's problems about the list point.
 */
export function actionList(owner, key, ctxIn, { pointer, onChange = () => {}, label = 'actions' } = {}) {
  const box = el('div', { class: 'ab', 'data-actions': label, 'data-pointer': pointer });
  const changed = () => { onChange(); };
  const draw = () => {
    const list = owner[key] || [];
    const cards = list.map((a, i) => {
      const p = `${label}-${i}`;
      const ctx = { ...ctxIn, pointer: `${pointer}/${i}` };
      const card = el('div', { class: 'ab-card', 'data-action': i, 'data-pointer': `${pointer}/${i}` });
      const sum = el('div', { class: 'ab-summary', 'data-summary': '' });
      const kind = kindOfAction(a);
      const refresh = () => { sum.textContent = summary(a, ctx); changed(); };
      const tools = el('span', { class: 'sb-tools' },
        el('button', { type: 'button', class: 'small plain', 'aria-label': t('moveUp'), title: t('moveUp'), onclick: () => { if (i > 0) { [list[i - 1], list[i]] = [list[i], list[i - 1]]; changed(); draw(); } } }, '↑'),
        el('button', { type: 'button', class: 'small plain', 'aria-label': t('moveDown'), title: t('moveDown'), onclick: () => { if (i < list.length - 1) { [list[i + 1], list[i]] = [list[i], list[i + 1]]; changed(); draw(); } } }, '↓'),
        el('button', { type: 'button', class: 'small plain', 'aria-label': t('removeItem'), title: t('removeItem'), 'data-remove-action': '', onclick: () => { list.splice(i, 1); owner[key] = list; changed(); draw(); } }, '×'));
      if (!buildable(a)) {
        // Shown as it is stored; edited as JSON, saved unchanged if untouched.
        const area = el('textarea', { rows: 3, spellcheck: 'false', name: `${p}-json`, class: 'mono' }, JSON.stringify(a, null, 1));
        area.addEventListener('input', () => { try { list[i] = JSON.parse(area.value); area.setCustomValidity(''); sum.textContent = summary(list[i], ctx); changed(); } catch (e) { area.setCustomValidity(e.message); } });
        sum.textContent = summary(a, ctx);
        card.append(el('div', { class: 'sb-rule-head' }, sum, tools), el('div', { class: 'notice cb-notice', 'data-hand-written': '' }, t('actionAsJson')), area);
        return card;
      }
      const kindSel = select(`${p}-kind`, ACTION_KINDS.filter((k) => k !== 'digest' || ctx.site === 'cron' || kind === 'digest').map((k) => [k, t(`act_${k}`)]), kind, (nk) => { list[i] = fresh(nk, ctx); changed(); draw(); }, { 'aria-label': t('actionKind') });
      const body = el('div', { class: 'ab-body' });
      const redraw = () => { body.replaceChildren(...actionFields(list[i], kind, ctx, refresh, redraw, p).filter(Boolean)); sum.textContent = summary(list[i], ctx); };
      redraw();
      card.append(el('div', { class: 'sb-rule-head' }, kindSel, sum, tools), body);
      return card;
    });
    const add = select(`${label}-add`, [['', `+ ${t('addAction')}`], ...ACTION_KINDS.filter((k) => k !== 'digest' || ctxIn.site === 'cron').map((k) => [k, t(`act_${k}`)])], '', (k) => { if (!k) return; owner[key] = [...(owner[key] || []), fresh(k, ctxIn)]; changed(); draw(); }, { 'aria-label': t('addAction'), 'data-add-action': '' });
    box.replaceChildren(...cards, cards.length ? '' : el('div', { class: 'muted' }, t('noActions')), el('div', { class: 'cb-add' }, add));
  };
  draw();
  return box;
}

/** What the action pickers offer: messages, workflows and roles, read once per page. */
export async function pickLists() {
  const [messages, workflows, roles] = await Promise.all([get('/api/v1/messages'), get('/api/v1/workflows'), get('/api/v1/roles').catch(() => ({ items: [] }))]);
  const keys = roles.items.map((r) => r.key);
  return { messages: messages.items, workflows: workflows.items, roles: keys.length ? keys : ['admin', 'manager', 'staff'] };
}
