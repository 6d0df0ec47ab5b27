// The staff workspace: a record's page (data, segment badges, the workflow
// stage bar with its transitions, a timeline, quick follow-up logging), the
// task inbox (complete with the task's form), notifications and dashboards.
import { t } from './i18n.js';
import { api, get, post, ApiError } from './api.js';
import { el, show } from './dom.js';
import { renderForm } from './renderer.js';
import { widgetCard } from './charts.js';
import { recordLinks } from './links.js';

const when = (s) => (s ? new Date(s).toLocaleString(document.documentElement.lang === 'en' ? 'en' : 'zh-CN', { dateStyle: 'short', timeStyle: 'short' }) : '');

/** Badges for a record's segments. */
function badges(def, segments) {
  return el('div', { class: 'badges' }, Object.entries(def.segments || {}).filter(([k]) => segments[k] !== undefined && segments[k] !== null).map(([k, s]) => {
    const v = segments[k];
    const tone = s.kind === 'flag' ? (v ? 'warn' : 'ok') : k.includes('churn') ? (v === 'high' ? 'warn' : v === 'medium' ? 'mid' : 'ok') : '';
    return el('span', { class: `badge ${tone}`, 'data-segment': k, title: s.title || k }, `${s.title?.split(/[（(]/)[0] || k}: ${show(v)}`);
  }));
}

export async function recordView(main, formKey, id) {
  const [f, r] = await Promise.all([get(`/api/v1/forms/${formKey}`), get(`/api/v1/forms/${formKey}/records/${id}`)]);
  const def = f.definition;
  const [history, instances, tasks, forms, deliveries] = await Promise.all([
    get(`/api/v1/forms/${formKey}/records/${id}/history`), get(`/api/v1/forms/${formKey}/records/${id}/workflows`),
    // Managers and admins see everyone's tasks on the record; staff theirs (the API refuses them `all`).
    get(`/api/v1/tasks?record=${id}&assignee=all&status=any`).catch(() => get(`/api/v1/tasks?record=${id}&status=any`)).catch(() => ({ items: [] })), get('/api/v1/forms'),
    // The outbox is the admins' (webhook targets carry robot keys): others see the timeline without it.
    get(`/api/v1/deliveries?record=${id}`).catch(() => ({ items: [] })),
  ]);
  // Forms whose records link here (follow-ups, orders…): their records join the timeline; the first named follow_up (else the first) gets quick logging.
  const children = forms.items.map((x) => x.definition).filter((d) => Object.values(d.schema?.properties || {}).some((p) => p['x-link'] === formKey) && d.key !== formKey);
  const linkOf = (d) => Object.entries(d.schema.properties).find(([, p]) => p['x-link'] === formKey)[0];
  const childRecords = await Promise.all(children.map((d) => get(`/api/v1/forms/${d.key}/records?limit=50&filter=${encodeURIComponent(JSON.stringify({ [linkOf(d)]: { _eq: id } }))}`).then((p) => p.items.map((x) => ({ ...x, def: d }))).catch(() => [])));
  // A linked record happened when its first date or date-time field says (a follow-up's time, an order's date).
  const dateOf = (x) => { const k = Object.entries(x.def.schema.properties).find(([, p]) => p.format === 'date-time' || p.format === 'date')?.[0]; return k ? x.data[k] : undefined; };
  const titleOf = (d, x) => show((d.title_field && x.data[d.title_field]) || x.data.topic || x.data.name || x.data.order_no || '');
  const props = def.schema.properties;
  const status = el('div', { role: 'status' });

  // The workflow stage bar: states in order (when the definition may be read), the current one marked, transitions as buttons.
  const stages = el('div', { class: 'stages-box' });
  for (const inst of instances.items.filter((i) => i.status === 'active')) {
    let states = null;
    try { states = Object.entries((await get(`/api/v1/workflows/${inst.workflow}`)).definition.states).filter(([, s]) => !s.final || true); } catch { /* staff read only what the instance says */ }
    const bar = el('div', { class: 'stagebar', 'data-workflow': inst.workflow },
      (states || [[inst.state, { title: inst.state_title }]]).map(([k, s]) => el('span', { class: `stage${k === inst.state ? ' on' : ''}`, 'data-stage': k }, s.title || k)));
    // Every transition leaving the state, automatic ones too (they may be taken by hand); a guard's refusal is said beside its button.
    const buttons = el('div', { class: 'actions' }, inst.transitions.map((tr) => el('span', { class: 'tr' }, el('button', {
      class: tr.blocked ? '' : 'primary', 'data-transition': tr.key, disabled: !!tr.blocked,
      onclick: async () => {
        try { await post(`/api/v1/instances/${inst.id}/transitions/${tr.key}`); await recordView(main, formKey, id); }
        catch (err) { status.className = 'notice error'; status.textContent = err.message; }
      },
    }, `${tr.title || tr.key} →`), tr.blocked ? el('span', { class: 'blocked-reason', 'data-blocked': tr.key }, tr.blocked) : null)));
    stages.append(el('div', { class: 'card', style: 'margin-bottom:12px' }, el('div', { class: 'widget-title' }, inst.title || inst.workflow), bar, buttons));
  }

  const events = [
    ...history.items.map((h) => ({ at: h.at, kind: h.op, text: h.op === 'transition' ? Object.values(h.changes).map((c) => `${c.from ?? '—'} → ${c.to}`).join('; ') : h.op === 'create' ? t('created') : Object.keys(h.changes).map((k) => (props[k]?.title || k)).join('、'), who: h.actor_email })),
    ...childRecords.flat().map((x) => ({ at: dateOf(x) || x.created_at, kind: x.def.key, text: `${x.def.title || x.def.key}：${titleOf(x.def, x)}`, who: '' })),
    ...tasks.items.map((x) => ({ at: x.completed_at || x.created_at, kind: 'task', text: `${t('task')}：${x.title}${x.status === 'done' ? ' ✓' : ''}`, who: x.assignee || '' })),
    ...deliveries.items.map((d) => ({ at: d.sent_at || d.created_at, kind: d.channel, text: `${d.subject || d.channel} → ${d.channel === 'email' ? d.target : d.format || 'webhook'} (${d.status})`, who: '' })),
  ].sort((a, b) => (Date.parse(b.at) || 0) - (Date.parse(a.at) || 0));
  const timeline = el('ol', { class: 'timeline' }, events.map((e) => el('li', { 'data-kind': e.kind }, el('span', { class: 'when' }, when(e.at)), el('span', { class: `tag k-${e.kind}` }, e.kind), ' ', e.text, e.who ? el('span', { class: 'muted' }, ` · ${e.who}`) : null)));

  const quick = children.find((d) => d.key === 'follow_up') || children[0];
  const quickBox = el('div');
  if (quick) {
    const link = linkOf(quick);
    const slim = structuredClone(quick);
    delete slim.schema.properties[link];
    slim.schema.required = (slim.schema.required || []).filter((k) => k !== link);
    slim.ui = { ...(slim.ui || {}), layout: (slim.ui?.layout || []).map((s) => ({ ...s, fields: (s.fields || []).filter((k) => k !== link) })) };
    renderForm(quickBox, slim, { onSubmit: async (data) => { await post(`/api/v1/forms/${quick.key}/records`, { ...data, [link]: id }); setTimeout(() => recordView(main, formKey, id), 300); return t('saved'); } });
  }

  const fields = Object.keys(props);
  const selfService = await recordLinks(formKey, id);
  main.innerHTML = '';
  main.append(el('div', { class: 'head' }, el('div', {}, el('h1', {}, show(r.data[def.title_field] ?? r.data.name ?? id)), el('div', { class: 'muted' }, `${def.title || formKey} · rev ${r.rev}`), badges(def, r.segments)),
    el('div', { class: 'actions' }, el('a', { class: 'btn', href: `#/forms/${formKey}/records` }, t('records')))), status, stages,
  el('div', { class: 'record-grid' },
    el('div', {}, el('div', { class: 'card' }, el('h2', {}, t('details')), el('dl', { class: 'kv' }, fields.filter((k) => r.data[k] !== undefined).map((k) => [el('dt', {}, props[k].title || k), el('dd', {}, show(r.data[k]))]).flat()),
      Object.keys(def.computed || {}).length || Object.keys(def.rollups || {}).length ? el('dl', { class: 'kv muted' }, [...Object.keys(def.computed || {}), ...Object.keys(def.rollups || {})].filter((k) => r.data[k] !== undefined).map((k) => [el('dt', {}, def.ui?.widgets?.[k]?.title || k), el('dd', {}, show(r.data[k]))]).flat()) : null), selfService),
    el('div', {}, quick ? el('div', { class: 'card', style: 'margin-bottom:12px' }, el('h2', {}, `${t('log')} ${quick.title || quick.key}`), quickBox) : null,
      el('div', { class: 'card' }, el('h2', {}, t('timeline')), timeline))));
}

export async function tasksView(main) {
  const { items } = await get('/api/v1/tasks');
  const status = el('div', { role: 'status' });
  const list = el('div', { class: 'tasks' });
  main.innerHTML = '';
  main.append(el('h1', {}, t('tasks')), status, list);
  if (!items.length) { list.append(el('p', { class: 'muted' }, t('noTasks'))); return; }
  for (const x of items) {
    const box = el('div', { class: `card task${x.overdue ? ' overdue' : ''}`, 'data-task': x.id });
    const done = async (data) => {
      try {
        await post(`/api/v1/tasks/${x.id}/complete`, data === undefined ? {} : { data });
      } catch (err) {
        // The outcome's problems point into `/data/FIELD`: the form shows them at FIELD.
        if (err instanceof ApiError) err.problem.errors = err.errors.map((e) => ({ ...e, pointer: e.pointer.replace(/^\/data/, '') }));
        throw err;
      }
      await tasksView(main);
      return t('saved');
    };
    const body = el('div', { class: 'task-form' });
    box.append(el('div', { class: 'task-head' },
      el('div', {}, el('strong', {}, x.title), x.description ? el('div', { class: 'muted' }, x.description) : null,
        el('div', { class: 'muted' }, `${x.due_at ? `${t('due')} ${when(x.due_at)}` : ''}${x.record_form ? ` · ` : ''}`, x.record_form ? el('a', { href: `#/forms/${x.record_form}/records/${x.record_id}` }, x.record_form) : null)),
      el('div', { class: 'actions' }, x.overdue ? el('span', { class: 'badge warn' }, t('overdue')) : null,
        el('button', { class: 'primary', 'data-complete': x.id, onclick: async () => {
          if (!x.form) { try { await done(); } catch (err) { status.className = 'notice error'; status.textContent = err.message; } return; }
          const f = await get(`/api/v1/forms/${x.form}`);
          // The outcome record is linked to the task's record by the engine: leave that field out.
          const slim = structuredClone(f.definition);
          for (const [k, p] of Object.entries(slim.schema.properties)) if (p['x-link'] === x.record_form) { delete slim.schema.properties[k]; slim.schema.required = (slim.schema.required || []).filter((q) => q !== k); }
          renderForm(body, slim, { onSubmit: done });
        } }, t('complete')))), body);
    list.append(box);
  }
}

export async function notificationsView(main) {
  const { items, unread } = await get('/api/v1/notifications?limit=100');
  main.innerHTML = '';
  main.append(el('div', { class: 'head' }, el('h1', {}, `${t('notifications')} (${unread})`)),
    items.length ? el('div', { class: 'card', style: 'padding:0' }, items.map((n) => el('div', { class: `note${n.read_at ? '' : ' unread'}`, 'data-note': n.id },
      el('div', {}, el('strong', {}, n.title), n.body ? el('div', { class: 'muted' }, n.body) : null, el('div', { class: 'muted' }, when(n.created_at),
        n.record_id ? [' · ', el('a', { href: `#/forms/${n.record_form}/records/${n.record_id}` }, n.record_form)] : null)),
      n.read_at ? null : el('button', { class: 'small', onclick: async () => { await api('POST', `/api/v1/notifications/${n.id}/read`); await notificationsView(main); } }, t('markRead')))))
      : el('p', { class: 'muted' }, '—'));
}

/** The unread count for the bell in the shell. */
export async function unreadCount() {
  try { return (await get('/api/v1/notifications?unread=true&limit=1')).unread; } catch { return 0; }
}

export async function dashboardsView(main, key) {
  const { items } = await get('/api/v1/dashboards');
  const pick = key || items[0]?.key;
  main.innerHTML = '';
  if (!pick) { main.append(el('h1', {}, t('dashboards')), el('p', { class: 'muted' }, '—')); return; }
  const data = await get(`/api/v1/dashboards/${pick}/data`);
  main.append(el('div', { class: 'head' }, el('h1', {}, data.title || pick),
    items.length > 1 ? el('div', { class: 'actions' }, items.map((d) => el('a', { class: `btn${d.key === pick ? ' primary' : ''}`, href: `#/dashboards/${d.key}` }, d.definition.title || d.key))) : null),
  el('div', { class: 'dash' }, data.widgets.map(widgetCard)));
}

export { ApiError };
