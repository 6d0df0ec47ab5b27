// The staff workspace: a record's page (data, segment badges, the workflow
// stage bar with its transitions, a timeline, quick follow-up logging), the
// task inbox (complete with the task's form), notifications and dashboards.
import { t } from './i18n.js';
import { api, get, post, ApiError } from './api.js';
import { el, confirmAction, toast, clearToast } from './dom.js';
import { display, fieldTitle, segmentTitle, segmentValue, instant, plain, asText, recordLink, recordTitle } from './format.js';
import { personEl } from './people.js';
import { renderForm } from './renderer.js';
import { widgetCard } from './charts.js';
import { recordLinks } from './links.js';

const when = (s) => (s ? instant(s) : '');
const isAdmin = () => window.trellisMe?.role === 'admin';

/** Badges for a record's segments, values by their titles. */
function badges(def, segments) {
  return el('div', { class: 'badges' }, Object.entries(def.segments || {}).filter(([k]) => segments[k] !== undefined && segments[k] !== null).map(([k, s]) => {
    const v = segments[k];
    const tone = s.kind === 'flag' ? (v ? 'warn' : 'ok') : k.includes('churn') ? (v === 'high' ? 'warn' : v === 'medium' ? 'mid' : 'ok') : '';
    return el('span', { class: `badge ${tone}`, 'data-segment': k, title: s.title || k }, `${segmentTitle(def, k)}：${segmentValue(def, k, v)}`);
  }));
}

/** The keys rules keep (computed fields, rollups, segments): their changes fold into one quiet timeline line. */
const ruleKeys = (def) => new Set([...Object.keys(def.computed || {}), ...Object.keys(def.rollups || {})]);

/** One history entry as timeline text: fields by title, old → new values as people read them. */
function historyLine(def, h, forms, stateTitle = () => undefined) {
  if (h.op === 'create') return { text: t('created') };
  if (h.op === 'delete') return { text: t('deletedRecord') };
  if (h.op === 'restore') return { text: t('restoredRecord') };
  if (h.op === 'transition') {
    return { text: Object.entries(h.changes).map(([k, c]) => { const wf = k.replace(/^workflows\./, ''); return `${stateTitle(wf, c.from) || c.from || '—'} → ${stateTitle(wf, c.to) || c.to}`; }).join('；') };
  }
  const auto = ruleKeys(def);
  const keys = Object.keys(h.changes);
  const mine = keys.filter((k) => !auto.has(k) && !k.startsWith('segments.'));
  const val = (k, v) => { const x = display(def, k, v, forms); return x === '' ? '—' : x; };
  const rows = mine.map((k) => el('div', { class: 'change', 'data-change': k }, el('span', { class: 'field' }, fieldTitle(def, k)), '：', val(k, h.changes[k]?.from), ' → ', val(k, h.changes[k]?.to)));
  const quiet = keys.length - mine.length;
  if (!mine.length) return { text: t('autoUpdated', { n: quiet }), quiet: true };
  return { node: el('div', {}, rows, quiet ? el('div', { class: 'muted' }, t('autoAlso', { n: quiet })) : null) };
}

/** The changes an edit makes, as a merge patch: changed fields, and null for cleared ones. */
function patchOf(before, data, keys) {
  const patch = {};
  for (const k of keys) {
    const was = before[k];
    const now = data[k];
    // An unticked box on a record that never had the field is no change.
    if ((was === undefined || was === null) && now === false) continue;
    if (JSON.stringify(was ?? null) !== JSON.stringify(now ?? null)) patch[k] = now === undefined ? null : now;
  }
  return patch;
}

export async function recordView(main, formKey, id, { editing = false } = {}) {
  const [f, r] = await Promise.all([get(`/api/v1/forms/${formKey}`), get(`/api/v1/forms/${formKey}/records/${id}`)]);
  const def = f.definition;
  const [history, instances, tasks, forms, deliveries] = await Promise.all([
    get(`/api/v1/forms/${formKey}/records/${id}/history`), get(`/api/v1/forms/${formKey}/records/${id}/workflows`),
    // Managers and admins see everyone's tasks on the record; staff their own.
    get(`/api/v1/tasks?record=${id}&status=any${window.trellisMe?.role === 'staff' ? '' : '&assignee=all'}`).catch(() => ({ items: [] })), get('/api/v1/forms'),
    // The outbox is the admins' (webhook targets carry robot keys): others see the timeline without it.
    isAdmin() ? get(`/api/v1/deliveries?record=${id}`).catch(() => ({ items: [] })) : { items: [] },
  ]);
  const byKey = Object.fromEntries(forms.items.map((x) => [x.key, x.definition]));
  // Forms whose records link here (follow-ups, orders…): their records join the timeline; the first named follow_up (else the first) gets quick logging.
  const children = forms.items.map((x) => x.definition).filter((d) => Object.values(d.schema?.properties || {}).some((p) => p['x-link'] === formKey) && d.key !== formKey);
  const linkOf = (d) => Object.entries(d.schema.properties).find(([, p]) => p['x-link'] === formKey)[0];
  const childRecords = await Promise.all(children.map((d) => get(`/api/v1/forms/${d.key}/records?limit=50&filter=${encodeURIComponent(JSON.stringify({ [linkOf(d)]: { _eq: id } }))}`).then((p) => p.items.map((x) => ({ ...x, def: d }))).catch(() => [])));
  // A linked record happened when its first date or date-time field says (a follow-up's time, an order's date).
  const dateOf = (x) => { const k = Object.entries(x.def.schema.properties).find(([, p]) => p.format === 'date-time' || p.format === 'date')?.[0]; return k ? x.data[k] : undefined; };
  const titleOf = (d, x) => asText(plain((d.title_field && x.data[d.title_field]) || x.data.topic || x.data.name || x.data.order_no || d.title || ''));
  const props = def.schema.properties;
  const status = el('div', { role: 'status' });
  const reload = (opts) => recordView(main, formKey, id, opts);

  // The workflow stage bar: states in order, the current one marked, transitions as buttons.
  const stages = el('div', { class: 'stages-box' });
  for (const inst of instances.items.filter((i) => i.status === 'active')) {
    const states = inst.states?.length ? inst.states : [{ key: inst.state, title: inst.state_title }];
    const bar = el('div', { class: 'stagebar', 'data-workflow': inst.workflow },
      states.map((s) => el('span', { class: `stage${s.key === inst.state ? ' on' : ''}`, 'data-stage': s.key }, s.title || s.key)));
    // Every transition leaving the state, automatic ones too (they may be taken by hand); a guard's refusal is said beside its button.
    const buttons = el('div', { class: 'actions' }, inst.transitions.map((tr) => el('span', { class: 'tr' }, el('button', {
      class: tr.blocked ? '' : 'primary', 'data-transition': tr.key, disabled: !!tr.blocked,
      onclick: async () => {
        const to = states.find((s) => s.key === tr.to);
        // Into a final state (成交, 输单…) is not taken back by a click: ask first.
        if (to?.final && !(await confirmAction(t('confirmTransition', { t: tr.title || tr.key, s: to.title || to.key }), { ok: tr.title || tr.key }))) return;
        try { await post(`/api/v1/instances/${inst.id}/transitions/${tr.key}`); await reload(); }
        catch (err) { status.className = 'notice error'; status.textContent = err.message; }
      },
    }, `${tr.title || tr.key} →`), tr.blocked ? el('span', { class: 'blocked-reason', 'data-blocked': tr.key }, tr.blocked) : null)));
    stages.append(el('div', { class: 'card', style: 'margin-bottom:12px' }, el('div', { class: 'widget-title' }, inst.title || inst.workflow), bar, buttons));
  }

  const titles = new Map(instances.items.flatMap((i) => (i.states || []).map((s) => [`${i.workflow}/${s.key}`, s.title])));
  const stateTitle = (wf, k) => titles.get(`${wf}/${k}`);
  const events = [
    ...history.items.map((h) => ({ at: h.at, kind: h.op, ...historyLine(def, h, byKey, stateTitle), who: h.actor_email })),
    ...childRecords.flat().map((x) => ({ at: dateOf(x) || x.created_at, kind: x.def.key, label: x.def.title, node: el('span', {}, `${x.def.title || x.def.key}：`, el('a', { href: `#/forms/${x.def.key}/records/${x.id}` }, titleOf(x.def, x))), who: x.data.owner || '' })),
    ...tasks.items.map((x) => ({ at: x.completed_at || x.created_at, kind: 'task', text: `${t('task')}：${x.title}${x.status === 'done' ? ' ✓' : ''}`, who: x.assignee || '' })),
    ...deliveries.items.map((d) => ({ at: d.sent_at || d.created_at, kind: d.channel, text: `${d.subject || d.channel} → ${d.channel === 'email' ? d.target : d.format || 'webhook'}（${t(`d_${d.status}`)}）`, who: '' })),
  ].sort((a, b) => (Date.parse(b.at) || 0) - (Date.parse(a.at) || 0));
  const kindLabel = (e) => { const k = `tk_${e.kind}`; const v = t(k); return v === k ? e.label || e.kind : v; };
  const timeline = el('ol', { class: 'timeline' }, events.map((e) => el('li', { 'data-kind': e.kind, class: e.quiet ? 'quiet' : undefined },
    el('span', { class: 'when' }, when(e.at)), el('span', { class: `tag k-${e.kind}` }, kindLabel(e)), ' ', e.node || e.text, e.who ? el('span', { class: 'muted' }, ' · ', personEl(e.who)) : null)));

  const quick = children.find((d) => d.key === 'follow_up') || children[0];
  const quickBox = el('div');
  if (quick) {
    const link = linkOf(quick);
    const slim = structuredClone(quick);
    delete slim.schema.properties[link];
    slim.schema.required = (slim.schema.required || []).filter((k) => k !== link);
    slim.ui = { ...(slim.ui || {}), layout: (slim.ui?.layout || []).map((s) => ({ ...s, fields: (s.fields || []).filter((k) => k !== link) })) };
    renderForm(quickBox, slim, { onSubmit: async (data) => { await post(`/api/v1/forms/${quick.key}/records`, { ...data, [link]: id }); setTimeout(() => reload(), 300); return t('saved'); } });
  }

  const own = r.data[def.title_field] ?? r.data.name;
  const title = own !== undefined && own !== null && own !== '' ? asText(plain(own)) : await recordTitle(formKey, id);
  const derivedKeys = [...Object.keys(def.computed || {}), ...Object.keys(def.rollups || {})].filter((k) => !(k in props));
  const details = el('div', { class: 'card', id: 'details' });
  const showDetails = () => {
    details.replaceChildren(el('h2', {}, t('details')),
      el('dl', { class: 'kv' }, Object.keys(props).filter((k) => r.data[k] !== undefined && r.data[k] !== null && r.data[k] !== '').map((k) => [el('dt', {}, fieldTitle(def, k)), el('dd', { 'data-field': k }, display(def, k, r.data[k], byKey))]).flat()),
      derivedKeys.some((k) => r.data[k] !== undefined) ? el('dl', { class: 'kv muted' }, derivedKeys.filter((k) => r.data[k] !== undefined && r.data[k] !== null).map((k) => [el('dt', {}, fieldTitle(def, k)), el('dd', { 'data-field': k }, display(def, k, r.data[k], byKey))]).flat()) : null);
  };
  // Edit in place: the entry form with this record's values; only what changed is sent, at the revision shown.
  const edit = () => {
    const box = el('div');
    details.replaceChildren(el('h2', {}, t('editRecord')), box);
    let rev = r.rev;
    renderForm(box, def, {
      record: r, access: f.access, submitLabel: t('save'), onCancel: showDetails,
      onSubmit: async (data, keys) => {
        const patch = patchOf(r.data, data, keys);
        if (!Object.keys(patch).length) { showDetails(); return t('nochange'); }
        try {
          await api('PATCH', `/api/v1/forms/${formKey}/records/${id}`, patch, { headers: { 'if-match': `"${rev}"` } });
        } catch (err) {
          clearToast();
          if (!(err instanceof ApiError && err.status === 412)) throw err;
          // Someone saved first: show both values of every field this edit changes, keep what was typed.
          const now = await get(`/api/v1/forms/${formKey}/records/${id}`);
          rev = now.rev;
          const clash = Object.keys(patch).filter((k) => JSON.stringify(now.data[k] ?? null) !== JSON.stringify(r.data[k] ?? null));
          box.querySelector('#conflict')?.remove();
          box.prepend(el('div', { class: 'notice error conflict', id: 'conflict' }, el('strong', {}, t('conflict', { who: '' })),
            el('table', { class: 'mini' }, el('thead', {}, el('tr', {}, el('th', {}, t('field')), el('th', {}, t('theirs')), el('th', {}, t('yours')))),
              el('tbody', {}, (clash.length ? clash : Object.keys(patch)).map((k) => el('tr', { 'data-conflict': k }, el('td', {}, fieldTitle(def, k)), el('td', { class: 'theirs' }, display(def, k, now.data[k], byKey) || '—'), el('td', { class: 'yours' }, display(def, k, patch[k], byKey) || '—'))))),
            el('p', { class: 'muted' }, t('conflictHelp'))));
          box.querySelector('#conflict').scrollIntoView({ block: 'center' });
          r.data = { ...r.data, ...Object.fromEntries(Object.keys(now.data).filter((k) => !(k in patch)).map((k) => [k, now.data[k]])) };
          throw new ApiError(412, { detail: t('conflictShort') });
        }
        await reload();
        toast(t('saved'));
        return t('saved');
      },
    });
  };
  const remove = async () => {
    if (!(await confirmAction(t('confirmDelete', { x: title }), { ok: t('delete') }))) return;
    try {
      await api('DELETE', `/api/v1/forms/${formKey}/records/${id}`, undefined, { headers: { 'if-match': `"${r.rev}"` } });
      location.hash = `#/forms/${formKey}/records`;
      toast(t('deleted', { x: title }), { label: t('undo'), action: async () => { await post(`/api/v1/forms/${formKey}/records/${id}/restore`); location.hash = `#/forms/${formKey}/records/${id}`; } });
    } catch (err) { status.className = 'notice error'; status.textContent = err.message; }
  };

  const selfService = await recordLinks(formKey, id);
  main.innerHTML = '';
  main.append(el('div', { class: 'head' }, el('div', {}, el('h1', {}, title), el('div', { class: 'muted' }, `${def.title || formKey}`, r.data.owner ? [' · ', t('owner'), ' ', personEl(r.data.owner)] : null, ` · ${t('updatedAt')} ${when(r.updated_at)}`), badges(def, r.segments)),
    el('div', { class: 'actions' }, el('a', { class: 'btn', href: `#/forms/${formKey}/records` }, t('backToList', { f: def.title || formKey })),
      f.access?.write === 'none' ? null : el('button', { id: 'edit-record', onclick: edit }, t('edit')),
      f.access?.delete === 'none' ? null : el('button', { id: 'delete-record', class: 'danger', onclick: remove }, t('delete')))), status, stages,
  el('div', { class: 'record-grid' },
    el('div', {}, details, selfService),
    el('div', {}, quick ? el('div', { class: 'card', style: 'margin-bottom:12px' }, el('h2', {}, `${t('log')}${quick.title || quick.key}`), quickBox) : null,
      el('div', { class: 'card' }, el('h2', {}, t('timeline')), tasks.items.length ? el('a', { href: `#/tasks?record=${id}&form=${formKey}&when=open`, id: 'record-tasks' }, t('recordTasks', { n: tasks.items.filter((x) => x.status === 'open').length })) : null, timeline))));
  showDetails();
  if (editing) edit();
}

/** Local-day bounds as instants: today's end, this week's end (Sunday). */
function dayEnd(offsetDays = 0) { const d = new Date(); d.setHours(23, 59, 59, 999); d.setDate(d.getDate() + offsetDays); return d; }
const weekEnd = () => dayEnd((7 - new Date().getDay()) % 7);

/** A link to a task's record: its title, or 查看记录 when the task's title already names it. */
function taskRecordLink(x) {
  const a = recordLink(x.record_form, x.record_id);
  recordTitle(x.record_form, x.record_id).then((title) => { if (x.title.includes(title)) a.textContent = t('openRecord'); });
  return a;
}

/** A task's card: its title naming its record, due date, assignee; 完成 asks first (or opens the task's form). */
function taskCard(x, { onDone, status }) {
  const box = el('div', { class: `card task${x.overdue ? ' overdue' : ''}`, 'data-task': x.id });
  const done = async (data) => {
    try {
      await post(`/api/v1/tasks/${x.id}/complete`, data === undefined ? {} : { data });
    } catch (err) {
      // The outcome's problems point into `/data/FIELD`: the form shows them at FIELD.
      if (err instanceof ApiError) err.problem.errors = err.errors.map((e) => ({ ...e, pointer: e.pointer.replace(/^\/data/, '') }));
      throw err;
    }
    // A completion that wrote nothing else can be taken back for a few seconds.
    toast(t('taskDone', { x: x.title }), data === undefined ? { label: t('undo'), action: async () => { await post(`/api/v1/tasks/${x.id}/reopen`); await onDone(); } } : {});
    await onDone();
    return t('saved');
  };
  const body = el('div', { class: 'task-form' });
  box.append(el('div', { class: 'task-head' },
    el('div', {}, el('strong', {}, x.title), x.record_id ? el('span', { class: 'muted' }, ' · ', taskRecordLink(x)) : null,
      x.description ? el('div', { class: 'muted' }, x.description) : null,
      el('div', { class: 'muted' }, x.due_at ? `${t('due')} ${when(x.due_at)}` : '', x.assignee ? [' · ', personEl(x.assignee)] : null)),
    el('div', { class: 'actions' }, x.overdue ? el('span', { class: 'badge warn' }, t('overdue')) : null,
      x.status === 'open' ? el('button', { class: 'primary', 'data-complete': x.id, onclick: async () => {
        if (!x.form) {
          if (!(await confirmAction(t('confirmComplete', { x: x.title }), { ok: t('complete'), danger: false }))) return;
          try { await done(); } catch (err) { status.className = 'notice error'; status.textContent = err.message; }
          return;
        }
        const f = await get(`/api/v1/forms/${x.form}`);
        // The outcome record is linked to the task's record by the engine: leave that field out.
        const slim = structuredClone(f.definition);
        for (const [k, p] of Object.entries(slim.schema.properties)) if (p['x-link'] === x.record_form) { delete slim.schema.properties[k]; slim.schema.required = (slim.schema.required || []).filter((q) => q !== k); }
        renderForm(body, slim, { onSubmit: done, submitLabel: t('complete'), onCancel: () => body.replaceChildren() });
      } }, t('complete')) : el('span', { class: 'tag ok' }, t(`ts_${x.status}`)))), body);
  return box;
}

export async function tasksView(main, params = new URLSearchParams()) {
  const which = params.get('when') || 'open';
  const record = params.get('record');
  const q = new URLSearchParams({ limit: '500' });
  const recordForm = params.get('form');
  // A record's tasks are everyone's on it for managers and admins (staff see their own).
  if (record) { q.set('record', record); if (window.trellisMe?.role !== 'staff') q.set('assignee', 'all'); }
  if (which === 'today') q.set('due_before', dayEnd().toISOString());
  if (which === 'week') q.set('due_before', weekEnd().toISOString());
  if (which === 'done') q.set('status', 'done');
  const { items: all } = await get(`/api/v1/tasks?${q}`);
  const items = which === 'overdue' ? all.filter((x) => x.overdue) : all;
  const status = el('div', { role: 'status' });
  const list = el('div', { class: 'tasks' });
  const tabs = el('div', { class: 'tabs', role: 'tablist' }, ['open', 'today', 'overdue', 'week', 'done'].map((k) => el('a', { href: `#/tasks?when=${k}${record ? `&record=${record}&form=${recordForm}` : ''}`, role: 'tab', 'aria-selected': String(k === which), class: k === which ? 'on' : '', 'data-when': k }, t(`tw_${k}`))));
  // By record: the tasks of one customer (from its page), with the way back to all.
  const of = record && recordForm ? el('div', { class: 'muted', id: 'tasks-of' }, t('tasksOf'), recordLink(recordForm, record), ' · ', el('a', { href: `#/tasks?when=${which}` }, t('allTasks'))) : null;
  main.innerHTML = '';
  main.append(...[el('div', { class: 'head' }, el('div', {}, el('h1', {}, t('tasks')), of), tabs), status, list].filter(Boolean));
  if (!items.length) { list.append(el('p', { class: 'muted' }, t('noTasks'))); return; }
  for (const x of items) list.append(taskCard(x, { status, onDone: () => tasksView(main, params) }));
}

export async function notificationsView(main) {
  const { items, unread } = await get('/api/v1/notifications?limit=100');
  const readAll = async () => { await post('/api/v1/notifications/read'); await notificationsView(main); refreshBell(); };
  main.innerHTML = '';
  main.append(el('div', { class: 'head' }, el('h1', {}, `${t('notifications')}${unread ? `（${unread}）` : ''}`),
    unread ? el('div', { class: 'actions' }, el('button', { id: 'read-all', onclick: readAll }, t('markAllRead'))) : null),
  items.length ? el('div', { class: 'card', style: 'padding:0' }, items.map((n) => {
    const open = async () => {
      if (!n.read_at) await api('POST', `/api/v1/notifications/${n.id}/read`).catch(() => {});
      if (n.record_id) location.hash = `#/forms/${n.record_form}/records/${n.record_id}`;
      else await notificationsView(main);
      refreshBell();
    };
    return el('div', { class: `note${n.read_at ? '' : ' unread'}`, 'data-note': n.id },
      el('div', {}, n.record_id ? el('a', { href: `#/forms/${n.record_form}/records/${n.record_id}`, onclick: (e) => { e.preventDefault(); open(); } }, el('strong', {}, n.title)) : el('strong', {}, n.title),
        n.body ? el('div', { class: 'muted' }, n.body) : null, el('div', { class: 'muted' }, when(n.created_at), n.record_id ? [' · ', recordLink(n.record_form, n.record_id)] : null)),
      n.read_at ? null : el('button', { class: 'small', onclick: async () => { await api('POST', `/api/v1/notifications/${n.id}/read`); await notificationsView(main); refreshBell(); } }, t('markRead')));
  })) : el('p', { class: 'muted' }, t('noNotifications')));
}

/** Sets the bell's count again. */
export async function refreshBell() {
  const c = document.getElementById('unread');
  if (c) { const n = await unreadCount(); c.textContent = n ? String(n) : ''; }
}

/**
 * The workbench, where staff and managers land: my tasks due today and
 * overdue, my reminders this week, my recent records, my numbers.
 */
export async function homeView(main) {
  const me = window.trellisMe || {};
  const [open, forms, notes, soon] = await Promise.all([get('/api/v1/tasks?limit=500'), get('/api/v1/forms'), get('/api/v1/notifications?unread=true&limit=20'),
    // The reminders triggers send this week for my records (birthdays, contract ends…).
    get(`/api/v1/reminders?from=${encodeURIComponent(new Date().toISOString())}&to=${encodeURIComponent(weekEnd().toISOString())}`).catch(() => ({ items: [] }))]);
  const today = open.items.filter((x) => x.overdue || (x.due_at && Date.parse(x.due_at) <= dayEnd().getTime()));
  const week = open.items.filter((x) => x.due_at && Date.parse(x.due_at) > dayEnd().getTime() && Date.parse(x.due_at) <= weekEnd().getTime());
  // My recent records: the first forms with an owner field, newest of mine first.
  // The forms with an owner field, those most linked to first (customers before their follow-ups).
  const linked = (k) => forms.items.filter((x) => Object.values(x.definition.schema?.properties || {}).some((p) => p['x-link'] === k)).length;
  const owned = forms.items.filter((x) => x.definition.schema?.properties?.owner?.format === 'user').sort((a, b) => linked(b.key) - linked(a.key)).slice(0, 3);
  const recents = await Promise.all(owned.map((x) => get(`/api/v1/forms/${x.key}/records?limit=5&filter=${encodeURIComponent(JSON.stringify({ owner: { _in: [me.id, me.email] } }))}`).then((p) => ({ f: x, items: p.items })).catch(() => ({ f: x, items: [] }))));
  const counts = await Promise.all(owned.map((x) => get(`/api/v1/forms/${x.key}/records/count?filter=${encodeURIComponent(JSON.stringify({ owner: { _in: [me.id, me.email] } }))}`).then((n) => ({ f: x, n: n.count })).catch(() => ({ f: x, n: null }))));
  const status = el('div', { role: 'status' });
  const reload = () => homeView(main);
  const stat = (label, n, href, id) => el('a', { class: 'card stat', href, 'data-stat': id }, el('div', { class: 'n' }, String(n ?? '—')), el('div', { class: 'muted' }, label));
  const hello = new Date().getHours() < 12 ? t('morning') : t('afternoon');
  main.innerHTML = '';
  main.append(el('div', { class: 'head' }, el('div', {}, el('h1', {}, `${hello}，${me.name || me.email || ''}`), el('div', { class: 'muted' }, new Date().toLocaleDateString(document.documentElement.lang === 'en' ? 'en' : 'zh-CN', { dateStyle: 'full' })))), status,
    el('div', { class: 'stats' }, stat(t('todayTasks'), today.length, '#/tasks?when=today', 'today'), stat(t('overdue'), open.items.filter((x) => x.overdue).length, '#/tasks?when=overdue', 'overdue'),
      stat(t('weekTasks'), week.length, '#/tasks?when=week', 'week'), stat(t('unreadNotes'), notes.unread, '#/notifications', 'unread'),
      counts.map((c) => stat(t('myRecords', { f: c.f.title || c.f.key }), c.n, `#/forms/${c.f.key}/records?mine=1`, `mine-${c.f.key}`))),
    el('div', { class: 'record-grid' },
      el('div', {}, el('div', { class: 'card', id: 'today-tasks' }, el('h2', {}, t('todayAndOverdue')),
        today.length ? today.slice(0, 20).map((x) => taskCard(x, { status, onDone: reload })) : el('p', { class: 'muted' }, t('nothingToday'))),
      el('div', { class: 'card', id: 'week-tasks', style: 'margin-top:12px' }, el('h2', {}, t('thisWeek')),
        week.length ? el('ul', { class: 'plain' }, week.map((x) => el('li', {}, el('span', { class: 'when' }, when(x.due_at)), ' ', x.title, x.record_id ? [' · ', taskRecordLink(x)] : null))) : el('p', { class: 'muted' }, t('none')))),
      el('div', {}, el('div', { class: 'card', id: 'week-reminders', style: 'margin-bottom:12px' }, el('h2', {}, t('weekReminders')),
        soon.items.length ? el('ul', { class: 'plain' }, soon.items.slice(0, 10).map((m) => el('li', {}, el('span', { class: 'when' }, when(m.at)), ' ', m.title || m.trigger, '：', recordLink(m.form, m.record_id))),
          soon.items.length > 10 ? el('li', {}, el('a', { href: '#/calendar?mode=week' }, t('nMore', { n: soon.items.length - 10 }))) : null) : el('p', { class: 'muted' }, t('none'))),
        recents.map((g) => el('div', { class: 'card', style: 'margin-bottom:12px', 'data-recent': g.f.key }, el('h2', {}, t('recentOf', { f: g.f.title || g.f.key })),
        g.items.length ? el('ul', { class: 'plain' }, g.items.map((x) => el('li', {}, recordLink(g.f.key, x.id, asText(plain(x.data[g.f.definition.title_field] ?? x.data.name ?? g.f.title))), el('span', { class: 'muted' }, ` · ${when(x.updated_at)}`)))) : el('p', { class: 'muted' }, t('none')))),
      notes.items.length ? el('div', { class: 'card' }, el('h2', {}, t('notifications')), el('ul', { class: 'plain' }, notes.items.slice(0, 8).map((n) => el('li', {}, n.record_id ? el('a', { href: `#/forms/${n.record_form}/records/${n.record_id}` }, n.title) : n.title, el('span', { class: 'muted' }, ` · ${when(n.created_at)}`))))) : null)));
}

/** The unread count for the bell in the shell. */
export async function unreadCount() {
  try { return (await get('/api/v1/notifications?unread=true&limit=1')).unread; } catch { return 0; }
}

export async function dashboardsView(main, key) {
  const [{ items }, forms] = await Promise.all([get('/api/v1/dashboards'), get('/api/v1/forms')]);
  const pick = key || items[0]?.key;
  main.innerHTML = '';
  if (!pick) { main.append(el('h1', {}, t('dashboards')), el('p', { class: 'muted' }, '—')); return; }
  const data = await get(`/api/v1/dashboards/${pick}/data`);
  const specs = Object.fromEntries((items.find((d) => d.key === pick)?.definition.widgets || []).map((w) => [w.key, w]));
  const byKey = Object.fromEntries(forms.items.map((x) => [x.key, x.definition]));
  main.append(el('div', { class: 'head' }, el('h1', {}, data.title || pick),
    items.length > 1 ? el('div', { class: 'actions' }, items.map((d) => el('a', { class: `btn${d.key === pick ? ' primary' : ''}`, href: `#/dashboards/${d.key}` }, d.definition.title || d.key))) : null),
  el('div', { class: 'dash' }, data.widgets.map((w) => widgetCard(w, specs[w.key], byKey))));
}

export { ApiError };
