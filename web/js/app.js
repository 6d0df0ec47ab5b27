// The app: sign-in, the shell (navigation), a hash router and the views.
// Views talk to the JSON API only; nothing here knows SQL or rules.
import { t, lang, setLang } from './i18n.js';
import { api, get, post, put, ApiError } from './api.js';
import { Designer, modelOf, definitionOf, changeSummary, problemsOf } from './designer.js';
import { publishWithImpact } from './publish.js';
import { renderForm } from './renderer.js';
import { rulesView } from './rules.js';
import { packsView } from './packs.js';
import { workflowsView, triggersView, triggerView } from './flows.js';
import { workflowView } from './workflow-designer.js';
import { recordView, tasksView, notificationsView, dashboardsView, unreadCount, homeView } from './workspace.js';
import { trashView } from './trash.js';
import { boardView } from './board.js';
import { calendarView } from './calendar.js';
import { loadPeople, nameOf, roleTitle } from './people.js';
import { instant, fieldTitle } from './format.js';
import { listView } from './list.js';
import { importView } from './sheets.js';
import { linksView } from './links.js';
import { el, loading, confirmAction } from './dom.js';

const root = document.getElementById('app');

let me = null;

function loginView() {
  const email = el('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, autofocus: true });
  const password = el('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const err = el('div', { class: 'field-error', role: 'alert' });
  const form = el('form', {}, el('div', { class: 'brand' }, 'Trellis'), el('div', { class: 'muted' }, '客户管理 · 客户关系维护'),
    el('label', { for: 'email' }, t('email')), Object.assign(email, { id: 'email' }),
    el('label', { for: 'password' }, t('password')), Object.assign(password, { id: 'password' }), err,
    el('button', { class: 'primary', type: 'submit' }, t('signin')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    try {
      me = (await post('/api/v1/auth/session', { email: email.value, password: password.value })).user;
      window.trellisMe = me;
      location.hash = landing();
    } catch (x) {
      err.textContent = x instanceof ApiError && x.status === 401 ? t('wrong') : x.message;
    }
  });
  root.innerHTML = '';
  root.append(el('div', { class: 'login' }, form));
}

/** Where a user lands: admins on the forms they design, everyone else on their workbench. */
const landing = () => (me?.role === 'admin' ? '#/forms' : '#/home');

/** The shell: each user is offered what they may use (design and settings are the admins'). */
function shell(active) {
  const link = (href, label, key) => el('a', { href, class: active === key ? 'active' : '', 'data-nav': key, 'aria-current': active === key ? 'page' : undefined }, label);
  const admin = me?.role === 'admin';
  const main = el('main', { class: 'main', id: 'main', 'aria-busy': 'true' }, loading());
  const side = el('nav', { class: 'side', 'aria-label': t('navigation') },
    el('div', { class: 'brand' }, 'Trellis', el('a', { href: '#/notifications', class: 'bell', id: 'bell', 'aria-label': t('notifications') }, '✉', el('span', { class: 'count', id: 'unread' }))),
    link('#/home', t('home'), 'home'), link('#/records', t('records'), 'records'), link('#/tasks', t('tasks'), 'tasks'), link('#/calendar', t('calendarView'), 'calendar'), link('#/dashboards', t('dashboards'), 'dashboards'),
    admin ? [el('div', { class: 'group' }, t('design')), link('#/forms', t('forms'), 'forms'), link('#/workflows', t('workflows'), 'workflows'), link('#/triggers', t('triggers'), 'triggers')] : null,
    el('div', { class: 'group' }, t('settings')),
    admin ? [link('#/settings/users', t('users'), 'users'), link('#/settings/packs', t('packs'), 'packs'), link('#/settings/roles', t('roles'), 'roles'), link('#/settings/trash', t('trash'), 'trash')] : null,
    link('#/settings/profile', t('profile'), 'profile'), link('#/settings/tokens', t('tokens'), 'tokens'), admin ? link('#/settings/audit', t('audit'), 'audit') : null,
    el('div', { class: 'foot' }, el('div', { title: me?.email }, me ? `${me.name || me.email} · ${roleTitle(me.role, t(`role_${me.role}`))}` : ''),
      el('button', { class: 'small', onclick: () => { setLang(lang === 'en' ? 'zh-CN' : 'en'); route(); } }, t('language')), ' ',
      el('button', { class: 'small', id: 'signout', onclick: async () => { try { await api('DELETE', '/api/v1/auth/session'); } catch { /* signed out anyway */ } me = null; location.hash = '#/login'; } }, t('signout'))));
  root.innerHTML = '';
  root.append(el('a', { class: 'skip', href: '#main', onclick: (e) => { e.preventDefault(); main.focus(); } }, t('skipToMain')), el('div', { class: 'shell' }, side, main));
  main.tabIndex = -1;
  unreadCount().then((n) => { const c = document.getElementById('unread'); if (c) c.textContent = n ? String(n) : ''; });
  return main;
}

async function formsView(main) {
  const { items } = await get('/api/v1/forms');
  const key = el('input', { name: 'new-key', placeholder: 'customer', pattern: '[a-z][a-z0-9_]*', required: true, spellcheck: 'false' });
  const title = el('input', { name: 'new-title', placeholder: '客户', required: true });
  const dialog = el('dialog', { id: 'new-form' }, el('form', { method: 'dialog' }, el('h2', {}, t('newform')),
    el('label', {}, t('formkey')), key, el('label', {}, t('formtitle')), title,
    el('div', { class: 'actions', style: 'margin-top:16px;justify-content:flex-end' }, el('button', { type: 'button', onclick: () => dialog.close('cancel') }, t('cancel')), el('button', { class: 'primary', value: 'ok', id: 'create-form' }, t('create')))));
  dialog.addEventListener('close', () => {
    if (dialog.returnValue === 'ok' && /^[a-z][a-z0-9_]*$/.test(key.value)) location.hash = `#/forms/${key.value}/design?new=${encodeURIComponent(title.value || key.value)}`;
  });
  main.innerHTML = '';
  main.append(el('div', { class: 'head' }, el('h1', {}, t('forms')), el('button', { class: 'primary', id: 'new-form-button', onclick: () => dialog.showModal() }, '+ ' + t('newform'))), dialog,
    items.length ? el('div', { class: 'grid' }, items.map((f) => el('div', { class: 'card', 'data-form': f.key },
      el('div', { style: 'display:flex;justify-content:space-between' }, el('strong', {}, f.title || f.key), el('span', { class: 'muted' }, `v${f.version}`)),
      el('div', { class: 'muted', style: 'margin:4px 0 10px' }, `${f.key} · ${Object.keys(f.definition?.schema?.properties || {}).length} ${t('fields')}`),
      el('div', { class: 'actions' }, el('a', { class: 'btn', href: `#/forms/${f.key}/design` }, t('design')), el('a', { class: 'btn', href: `#/forms/${f.key}/rules` }, t('rules')),
        el('a', { class: 'btn', href: `#/forms/${f.key}/records` }, t('records')), el('a', { class: 'btn', href: `#/forms/${f.key}/new` }, t('entry')), el('a', { class: 'btn', href: `#/forms/${f.key}/links` }, t('publicLinks'))))))
      : el('p', { class: 'muted' }, t('noForms')));
}

async function designView(main, key, params) {
  const forms = (await get('/api/v1/forms')).items.map((f) => f.key);
  let current = null;
  try { current = await get(`/api/v1/forms/${key}`); } catch (e) { if (!(e instanceof ApiError && e.status === 404)) throw e; }
  const def = current ? current.definition : { key, title: params.get('new') || key, schema: { type: 'object', properties: {} }, ui: { layout: [{ section: '基本信息', fields: [] }], widgets: {} } };
  const model = modelOf(def);
  const status = el('div', { role: 'status' });
  const titleInput = el('input', { value: model.title, name: 'form-title', style: 'font-size:18px;font-weight:600;max-width:360px' });
  titleInput.addEventListener('input', () => { model.title = titleInput.value; });
  const host = el('div');
  main.innerHTML = '';
  // The header says the version in force: the one just published after a publish.
  const versionLine = el('div', { class: 'muted', id: 'form-version' }, `${key}${current ? ` · v${current.version}` : ''}`);
  main.append(el('div', { class: 'head' }, el('div', {}, titleInput, versionLine),
    el('div', { class: 'actions' }, current ? el('a', { class: 'btn', href: `#/forms/${key}/rules` }, t('rules')) : null, current ? el('a', { class: 'btn', href: `#/forms/${key}/new` }, t('entry')) : null,
      el('button', { class: 'primary', id: 'publish', onclick: () => publish() }, t('publish')))), status, host);
  const designer = new Designer(host, model, { forms: [...new Set([...forms, key])] });

  async function publish() {
    const problems = problemsOf(model);
    if (problems.length) { status.className = 'notice error'; status.textContent = problems.join(' — '); return; }
    const next = definitionOf(model);
    const s = changeSummary(current?.definition, next);
    // Fields by their titles (a removed one by its stored title), as the admin named them.
    const titleOf = (k) => next.schema.properties[k]?.title || current?.definition?.schema?.properties?.[k]?.title || k;
    const list = (label, keys) => (keys.length ? el('li', {}, `${label}：${keys.map(titleOf).join('、')}`) : null);
    const items = [list(t('added'), s.added), list(t('removed'), s.removed), list(t('changed'), s.changed), s.layout ? el('li', {}, t('layoutChanged')) : null, s.title ? el('li', {}, t('formtitle')) : null].filter(Boolean);
    const published = (saved) => {
      current = saved;
      versionLine.textContent = `${key} · v${saved.version}`;
      status.className = 'notice ok'; status.textContent = t('published', { v: saved.version });
      history.replaceState(null, '', `#/forms/${key}/design`);
    };
    if (current) {
      // A stored form: the server's dry run shows the impact on its records first.
      await publishWithImpact({
        key, current, next, items, status, onPublished: published,
        onFixes: (chosen) => {
          // The designer's model follows the fixes, so the next publish starts from what is in force.
          const fields = model.sections.flatMap((x) => x.fields);
          for (const c of chosen) {
            const f = fields.find((x) => x.key === c.field);
            if (c.how === 'default') { if (f) f.default = c.value; } else {
              if (f) f.required = false;
              model.extra.required_for_new = [...new Set([...(model.extra.required_for_new || []), c.field])];
            }
          }
          designer.render();
        },
      });
      return;
    }
    const dialog = el('dialog', { id: 'publish-dialog' }, el('form', { method: 'dialog' }, el('h2', {}, t('changeSummary')),
      items.length ? el('ul', { class: 'summary' }, items) : el('p', { class: 'muted' }, t('nochange')),
      el('div', { class: 'actions', style: 'justify-content:flex-end;margin-top:14px' }, el('button', { type: 'button', onclick: () => dialog.close('cancel') }, t('cancel')), el('button', { class: 'primary', value: 'ok', id: 'confirm-publish' }, t('confirm')))));
    document.body.append(dialog);
    dialog.showModal();
    dialog.addEventListener('close', async () => {
      dialog.remove();
      if (dialog.returnValue !== 'ok') return;
      status.className = ''; status.textContent = '';
      try {
        published(await post('/api/v1/forms', next));
      } catch (err) {
        status.className = 'notice error';
        status.textContent = [err.message, ...(err.errors || []).map((e) => `${e.pointer}: ${e.message}`)].join(' — ');
      }
    });
  }
  return designer;
}

async function entryView(main, key) {
  const f = await get(`/api/v1/forms/${key}`);
  const box = el('div');
  const done = el('div', { id: 'entry-done' });
  main.innerHTML = '';
  main.append(el('div', { class: 'head' }, el('div', {}, el('h1', {}, f.definition.title || key), el('div', { class: 'muted' }, t('entry'))),
    el('div', { class: 'actions' }, el('a', { class: 'btn', href: `#/forms/${key}/records` }, t('records')))), done, box);
  // After a save the form starts empty again and the note links to what was made: a second click makes a second record only on purpose.
  const draw = () => renderForm(box, f.definition, {
    access: f.access,
    onSubmit: async (data) => {
      const r = await post(`/api/v1/forms/${key}/records`, data);
      const title = r.data[f.definition.title_field] ?? r.data.name ?? f.definition.title;
      done.replaceChildren(el('div', { class: 'notice ok' }, t('createdOne'), ' ', el('a', { href: `#/forms/${key}/records/${r.id}`, id: 'created-link' }, String(title)), ' · ', t('enterAnother')));
      draw();
      box.querySelector('input, select, textarea')?.focus();
      return t('saved');
    },
  });
  draw();
}

async function recordsView(main, key, params) {
  if (!key) {
    const { items } = await get('/api/v1/forms');
    main.innerHTML = '';
    // The forms others link to first (客户 before its 跟进记录), each with what it is for.
    const linked = (k) => items.filter((x) => Object.values(x.definition.schema?.properties || {}).some((p) => p['x-link'] === k)).length;
    const sorted = [...items].sort((a, b) => linked(b.key) - linked(a.key) || (a.title || a.key).localeCompare(b.title || b.key, 'zh-CN'));
    main.append(el('h1', {}, t('records')), el('div', { class: 'grid', style: 'margin-top:12px' }, sorted.map((f) => el('a', { class: 'card', href: `#/forms/${f.key}/records`, 'data-form': f.key }, el('strong', {}, f.title || f.key),
      f.definition.description ? el('div', { class: 'muted clamp' }, f.definition.description) : null))));
    return;
  }
  await listView(main, key, params);
}

async function usersView(main) {
  const [{ items }, roles] = await Promise.all([get('/api/v1/users'), get('/api/v1/roles')]);
  const roleTitle = (k) => roles.items.find((r) => r.key === k)?.definition.title || t(`role_${k}`);
  const email = el('input', { type: 'email', name: 'user-email', id: 'user-email', required: true });
  const name = el('input', { name: 'user-name', id: 'user-name', maxlength: 50, placeholder: t('namePlaceholder') });
  const role = el('select', { name: 'user-role', id: 'user-role' }, ['staff', 'manager', 'admin'].map((r) => el('option', { value: r }, roleTitle(r))));
  const password = el('input', { type: 'password', name: 'user-password', id: 'user-password', minlength: 10, required: true, autocomplete: 'new-password' });
  const manager = el('select', { name: 'user-manager', id: 'user-manager' }, el('option', { value: '' }, '—'), items.filter((u) => u.role !== 'staff').map((u) => el('option', { value: u.email }, u.name || u.email)));
  const status = el('div', { role: 'status' });
  const form = el('form', { class: 'card', style: 'margin-bottom:14px' }, el('h2', {}, `+ ${t('addUser')}`),
    el('div', { class: 'row4' }, el('div', {}, el('label', { for: 'user-name' }, t('personName')), name), el('div', {}, el('label', { for: 'user-email' }, t('email')), email), el('div', {}, el('label', { for: 'user-role' }, t('role')), role),
      el('div', {}, el('label', { for: 'user-password' }, t('password')), password), el('div', {}, el('label', { for: 'user-manager' }, t('manager')), manager)),
    el('div', { class: 'actions', style: 'margin-top:10px' }, el('button', { class: 'primary', type: 'submit', id: 'add-user' }, t('create'))), status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await post('/api/v1/users', { email: email.value, name: name.value || null, role: role.value, password: password.value, manager: manager.value || null });
      await loadPeople(true);
      await usersView(main);
    } catch (err) {
      status.className = 'notice error';
      status.textContent = [err.message, ...(err.errors || []).map((x) => x.message)].join(' — ');
    }
  });
  // A name is changed where it is shown: click 改名, type, Enter.
  const rename = (u, cell) => {
    const input = el('input', { value: u.name || '', maxlength: 50, 'aria-label': t('personName'), name: 'rename' });
    const save = async () => {
      try { await api('PATCH', `/api/v1/users/${encodeURIComponent(u.email)}`, { name: input.value }); await loadPeople(true); await usersView(main); }
      catch (err) { status.className = 'notice error'; status.textContent = err.message; }
    };
    input.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); save(); } if (e.key === 'Escape') usersView(main); });
    cell.replaceChildren(input, el('button', { class: 'small', onclick: save }, t('save')));
    input.focus();
  };
  main.innerHTML = '';
  main.append(el('h1', {}, t('users')), el('div', { style: 'height:12px' }), form,
    el('div', { class: 'scroll-x card', style: 'padding:0' }, el('table', { class: 'list' }, el('thead', {}, el('tr', {}, el('th', {}, t('personName')), el('th', {}, t('email')), el('th', {}, t('role')), el('th', {}, t('manager')))),
      el('tbody', {}, items.map((u) => {
        const cell = el('td', {}, u.name || el('span', { class: 'muted' }, '—'), ' ', el('button', { class: 'small link', 'data-rename': u.email, onclick: () => rename(u, cell) }, t('rename')));
        return el('tr', { 'data-user': u.email }, cell, el('td', {}, u.email), el('td', {}, roleTitle(u.role)), el('td', { class: 'muted' }, u.manager ? nameOf(u.manager) : ''));
      })))));
}

/** Your own name (what colleagues see) and language. */
async function profileView(main) {
  const name = el('input', { id: 'profile-name', value: me.name || '', maxlength: 50 });
  const status = el('div', { role: 'status' });
  const form = el('form', { class: 'card', style: 'max-width:480px' }, el('label', { for: 'profile-name' }, t('personName')), name,
    el('div', { class: 'muted', style: 'margin:6px 0' }, `${me.email} · ${roleTitle(me.role, t(`role_${me.role}`))}`),
    el('div', { class: 'actions', style: 'margin-top:10px' }, el('button', { class: 'primary', type: 'submit', id: 'save-profile' }, t('save'))), status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const u = await api('PATCH', `/api/v1/users/${me.id}`, { name: name.value });
      me = { ...me, name: u.name };
      window.trellisMe = me;
      await loadPeople(true);
      await route();
    } catch (err) { status.className = 'notice error'; status.textContent = err.message; }
  });
  main.innerHTML = '';
  main.append(el('h1', {}, t('profile')), el('div', { style: 'height:12px' }), form);
}

async function rolesView(main) {
  const { items } = await get('/api/v1/roles');
  main.innerHTML = '';
  main.append(el('h1', {}, t('roles')), el('table', { class: 'list card', style: 'padding:0;margin-top:12px' }, el('tbody', {},
    ['admin', 'manager', 'staff'].map((k) => { const d = items.find((i) => i.key === k)?.definition || {}; return el('tr', {}, el('td', {}, el('code', {}, k)), el('td', {}, d.title || ''), el('td', { class: 'muted' }, d.description || '')); }))));
  if (me?.role === 'admin') main.append(await explainBox());
}

/** Admins ask what a user may do with a form (and a record), field by field, and why. */
async function explainBox() {
  const [users, forms] = await Promise.all([get('/api/v1/users'), get('/api/v1/forms')]);
  const user = el('select', { name: 'explain-user' }, users.items.map((u) => el('option', { value: u.email }, `${u.name || u.email} · ${roleTitle(u.role, t(`role_${u.role}`))}`)));
  const form = el('select', { name: 'explain-form' }, forms.items.map((f) => el('option', { value: f.key }, f.title || f.key)));
  const record = el('input', { name: 'explain-record', placeholder: t('recordIdOptional'), spellcheck: 'false' });
  const out = el('div', { id: 'explain-out' });
  const yes = (b) => el('span', { class: `tag ${b ? 'ok' : 'off'}` }, b ? '✓' : '✗');
  const ask = async (e) => {
    e.preventDefault();
    out.innerHTML = '';
    const q = new URLSearchParams({ user: user.value, form: form.value });
    if (record.value.trim()) q.set('record', record.value.trim());
    try {
      const x = await get(`/api/v1/permissions/explain?${q}`);
      const def = forms.items.find((f) => f.key === form.value)?.definition || {};
      out.append(el('p', {}, `${nameOf(x.user)} · ${roleTitle(x.role, t(`role_${x.role}`))} · `, el('code', {}, x.rule), x.relation ? ` · ${t('relation')}: ${t(`rel_${x.relation}`)}` : '', ` · ${t('create')}: `, yes(x.create)),
        el('table', { class: 'list', id: 'explain-operations' }, el('tbody', {}, Object.entries(x.operations).map(([op, a]) => el('tr', { 'data-op': op },
          el('td', {}, t(`op_${op}`)), el('td', {}, t(`scope_${a.scope}`)), el('td', {}, a.allowed === undefined ? '' : yes(a.allowed)), el('td', { class: 'muted' }, a.why))))),
        el('table', { class: 'list', id: 'explain-fields', style: 'margin-top:10px' }, el('thead', {}, el('tr', {}, el('th', {}, t('key')), el('th', {}, t('canRead')), el('th', {}, t('canWrite')), el('th', {}, ''))),
          el('tbody', {}, Object.entries(x.fields).map(([k, f]) => el('tr', { 'data-field': k }, el('td', { title: k }, fieldTitle(def, k)), el('td', {}, yes(f.read)), el('td', {}, yes(f.write)), el('td', { class: 'muted' }, f.why))))));
    } catch (err) { out.append(el('div', { class: 'notice error' }, err.message)); }
  };
  return el('form', { class: 'card', id: 'explain', style: 'margin-top:16px', onsubmit: ask }, el('h2', {}, t('explain')), el('p', { class: 'muted' }, t('explainHelp')),
    el('div', { class: 'actions' }, user, form, record, el('button', { class: 'primary', type: 'submit' }, t('ask'))), out);
}

/** The signed-in user's tokens: when each was made, which one this tab uses; revoke any (the one in use signs out). */
async function tokensView(main) {
  const { items } = await get('/api/v1/auth/tokens');
  const revoke = async (tok) => {
    if (!(await confirmAction(tok.current ? t('confirmRevokeCurrent') : t('confirmRevoke'), { ok: t('revoke') }))) return;
    await api('DELETE', `/api/v1/auth/tokens/${tok.id}`);
    if (tok.current) { me = null; location.hash = '#/login'; return; }
    await tokensView(main);
  };
  main.innerHTML = '';
  main.append(el('h1', {}, t('tokens')), el('table', { class: 'list card', style: 'padding:0;margin-top:12px' },
    el('thead', {}, el('tr', {}, el('th', {}, t('createdAt')), el('th', {}, ''), el('th', {}, ''))),
    el('tbody', {}, items.map((tok) => el('tr', { 'data-token': tok.id },
      el('td', {}, instant(tok.created_at)),
      el('td', {}, tok.current ? el('span', { class: 'tag ok' }, t('inUse')) : tok.revoked_at ? el('span', { class: 'muted' }, `${t('revoked')} ${instant(tok.revoked_at)}`) : ''),
      el('td', {}, tok.revoked_at ? '' : el('button', { class: 'small', 'data-revoke': tok.id, onclick: () => revoke(tok).catch((err) => main.append(el('div', { class: 'notice error' }, err.message))) }, t('revoke'))))))));
}

/** The audit log (admins): newest first, a page at a time; people by name, definitions by title. */
async function auditView(main, before = null, rows = []) {
  const q = new URLSearchParams({ limit: '100' });
  if (before) q.set('before', before);
  const [{ items }, ...defs] = await Promise.all([get(`/api/v1/audit?${q}`), ...['forms', 'workflows', 'triggers', 'dashboards', 'messages', 'calendars'].map((k) => get(`/api/v1/${k}`).then((x) => [k, x.items]).catch(() => [k, []]))]);
  // A message template has no title: its subject line (placeholders as …) names it.
  const subject = (d) => /^subject:\s*(.+)$/m.exec(d.definition?.template || '')?.[1].replace(/\{\{.*?\}\}/g, '…').trim();
  const titles = new Map(defs.flatMap(([k, list]) => list.map((d) => [`${k === 'forms' ? 'form' : k.slice(0, -1)}/${d.key}`, `${t(`dk_${k}`)}「${d.title || d.definition?.title || subject(d) || d.key}」`])));
  const forms = new Map((defs.find(([k]) => k === 'forms')?.[1] || []).map((f) => [f.key, f.title || f.key]));
  const target = (x) => {
    if (!x) return '';
    if (titles.has(x)) return titles.get(x);
    if (forms.has(x)) return `${t('dk_forms')}「${forms.get(x)}」`;
    if (x.includes('@')) return nameOf(x);
    return x;
  };
  const all = [...rows, ...items];
  const label = (a) => { const k = `a_${a}`; const v = t(k); return v === k ? a : v; };
  main.innerHTML = '';
  main.append(el('h1', {}, t('audit')), el('div', { class: 'scroll-x card', style: 'padding:0;margin-top:12px' }, el('table', { class: 'list', id: 'audit' },
    el('thead', {}, el('tr', {}, el('th', {}, t('at')), el('th', {}, t('actor')), el('th', {}, t('action')), el('th', {}, t('target')))),
    el('tbody', {}, all.map((e) => el('tr', { 'data-action': e.action }, el('td', {}, instant(e.at)), el('td', { title: e.actor_email || '' }, nameOf(e.actor_email)), el('td', {}, label(e.action)), el('td', { class: 'muted', title: e.target || '' }, target(e.target))))))),
    ...(items.length === 100 ? [el('div', { class: 'actions', style: 'margin-top:10px' }, el('button', { onclick: () => auditView(main, items[items.length - 1].at, all) }, t('olderEntries')))] : []));
}

async function route() {
  const [path, query] = location.hash.slice(1).split('?');
  const params = new URLSearchParams(query || '');
  if (path === '/login') { me = null; loginView(); return; }
  try {
    if (!me) me = await get('/api/v1/auth/me');
    window.trellisMe = me;
    await loadPeople();
    if (!path || path === '/') { location.replace(landing()); return; }
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    root.innerHTML = '';
    root.append(el('div', { class: 'notice error', style: 'margin:40px' }, err.message || String(err)));
    return;
  }
  const parts = path.split('/').filter(Boolean);
  const active = parts[0] === 'settings' ? parts[1] : parts[0] === 'forms' && ['records', 'import', 'board'].includes(parts[2]) ? 'records' : parts[0] === 'forms' && parts[2] === 'calendar' ? 'calendar' : parts[0];
  const main = shell(active);
  try {
    if (parts[0] === 'forms' && parts[1] && parts[2] === 'design') await designView(main, parts[1], params);
    else if (parts[0] === 'forms' && parts[1] && parts[2] === 'rules') await rulesView(main, parts[1]);
    else if (parts[0] === 'forms' && parts[1] && parts[2] === 'new') await entryView(main, parts[1]);
    else if (parts[0] === 'forms' && parts[1] && parts[2] === 'import') await importView(main, parts[1]);
    else if (parts[0] === 'forms' && parts[1] && parts[2] === 'links') await linksView(main, parts[1]);
    else if (parts[0] === 'forms' && parts[1] && parts[2] === 'records' && parts[3]) await recordView(main, parts[1], parts[3]);
    else if (parts[0] === 'forms' && parts[1] && parts[2] === 'board' && parts[3]) await boardView(main, parts[1], parts[3], params);
    else if (parts[0] === 'forms' && parts[1] && parts[2] === 'calendar') await calendarView(main, parts[1], params);
    else if (parts[0] === 'calendar') await calendarView(main, null, params);
    else if (parts[0] === 'forms' && parts[1] && parts[2] === 'records') await recordsView(main, parts[1], params);
    else if (parts[0] === 'notifications') await notificationsView(main);
    else if (parts[0] === 'records') await recordsView(main);
    else if (parts[0] === 'workflows' && parts[1]) await workflowView(main, parts[1], params);
    else if (parts[0] === 'workflows') await workflowsView(main);
    else if (parts[0] === 'triggers' && parts[1]) await triggerView(main, parts[1], params);
    else if (parts[0] === 'triggers') await triggersView(main);
    else if (parts[0] === 'tasks') await tasksView(main, params);
    else if (parts[0] === 'home') await homeView(main);
    else if (parts[0] === 'settings' && parts[1] === 'trash') await trashView(main, params);
    else if (parts[0] === 'settings' && parts[1] === 'profile') await profileView(main);
    else if (parts[0] === 'settings' && parts[1] === 'packs') await packsView(main);
    else if (parts[0] === 'settings' && parts[1] === 'roles') await rolesView(main);
    else if (parts[0] === 'settings' && parts[1] === 'tokens') await tokensView(main);
    else if (parts[0] === 'settings' && parts[1] === 'audit') await auditView(main);
    else if (parts[0] === 'settings' && parts[1] === 'users') await usersView(main);
    else if (parts[0] === 'dashboards') await dashboardsView(main, parts[1]);
    else if (parts[0] === 'forms' && !parts[1] && me.role === 'admin') await formsView(main);
    else await homeView(main);
  } catch (err) {
    main.querySelector('.loading')?.remove();
    main.append(el('div', { class: 'notice error' }, err.message || String(err)));
  } finally {
    main.removeAttribute('aria-busy');
    main.querySelector(':scope > .loading')?.remove();
  }
}

document.documentElement.lang = lang;
window.addEventListener('hashchange', route);
route();
