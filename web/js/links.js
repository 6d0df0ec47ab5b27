// Public form links (外链表单): make one for a form (which fields, create or
// update, until when), share its URL, switch it off. An update link is
// signed per record: the record's page hands out that customer's URL.
import { t } from './i18n.js';
import { instant } from './format.js';
import { api, get, post } from './api.js';
import { el, confirmAction } from './dom.js';

const when = (s) => (s ? instant(s) : '');

/** A full URL with a copy button, ready to send to a customer. */
export function shareBox(path) {
  const url = `${location.origin}${path}`;
  const input = el('input', { readonly: true, value: url, class: 'share-url', onfocus: (e) => e.target.select() });
  const copy = el('button', { type: 'button', class: 'small', onclick: async () => {
    try { await navigator.clipboard.writeText(url); copy.textContent = t('copied'); } catch { input.select(); }
  } }, t('copy'));
  return el('div', { class: 'share' }, input, copy, el('a', { class: 'btn small', href: path, target: '_blank', rel: 'noopener' }, t('open')));
}

function state(l) {
  if (l.revoked_at) return ['off', t('linkRevoked')];
  if (l.expires_at && Date.parse(l.expires_at) <= Date.now()) return ['off', t('linkExpired')];
  return ['ok', t('linkLive')];
}

export async function linksView(main, formKey, made) {
  const [f, { items }] = await Promise.all([get(`/api/v1/forms/${formKey}`), get(`/api/v1/forms/${formKey}/public-links`)]);
  const def = f.definition;
  const props = def.schema?.properties || {};
  const required = new Set(def.schema?.required || []);
  const derived = new Set([...Object.keys(def.computed || {}), ...Object.keys(def.rollups || {})]);
  const closed = new Set([...(f.access?.hidden || []), ...(f.access?.readonly || [])]);
  // Only fields the signed-in role may write can go on their link; the server says so too.
  const offered = Object.keys(props).filter((k) => !derived.has(k) && !closed.has(k));
  const status = el('div', { role: 'status' });

  const title = el('input', { name: 'link-title', placeholder: def.title || formKey });
  const mode = el('select', { name: 'link-mode' }, el('option', { value: 'create' }, t('modeCreate')), el('option', { value: 'update' }, t('modeUpdate')));
  const expires = el('input', { type: 'datetime-local', name: 'link-expires' });
  const boxes = offered.map((k) => el('label', { class: 'check', 'data-link-field': k }, el('input', { type: 'checkbox', value: k, checked: required.has(k) }), props[k].title || k, required.has(k) ? el('span', { class: 'muted' }, ' *') : null));
  const fieldError = el('div', { class: 'field-error', role: 'alert' });
  const create = async (e) => {
    e.preventDefault();
    status.className = ''; status.textContent = ''; fieldError.textContent = '';
    const body = { fields: boxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => i.value), mode: mode.value };
    if (title.value.trim()) body.title = title.value.trim();
    if (expires.value) body.expires_at = new Date(expires.value).toISOString();
    try {
      const link = await post(`/api/v1/forms/${formKey}/public-links`, body);
      await linksView(main, formKey, link);
    } catch (err) {
      status.className = 'notice error';
      status.textContent = err.message;
      fieldError.textContent = (err.errors || []).map((x) => x.message).join('；');
    }
  };
  const form = el('form', { class: 'card link-new', id: 'new-link', onsubmit: create },
    el('h2', {}, t('newLink')),
    el('div', { class: 'cols' },
      el('div', { class: 'fld' }, el('label', {}, t('linkTitle')), title),
      el('div', { class: 'fld' }, el('label', {}, t('linkMode')), mode),
      el('div', { class: 'fld' }, el('label', {}, t('linkExpires')), expires)),
    el('label', {}, t('linkFields')), el('div', { class: 'multi' }, boxes), fieldError,
    el('p', { class: 'muted' }, t('linkHelp')),
    el('div', { class: 'actions' }, el('button', { class: 'primary', type: 'submit' }, t('create'))));

  const revoke = async (l) => {
    if (!(await confirmAction(t('confirmRevokeLink', { x: l.title || l.fields.join('、') }), { ok: t('revoke') }))) return;
    try { await api('DELETE', `/api/v1/public-links/${l.id}`); await linksView(main, formKey); } catch (err) { status.className = 'notice error'; status.textContent = err.message; }
  };
  const fieldNames = (l) => l.fields.map((k) => props[k]?.title || k).join('、');
  const rows = items.map((l) => {
    const [tone, label] = state(l);
    return el('tr', { 'data-link': l.id },
      el('td', {}, el('strong', {}, l.title || def.title || formKey), el('div', { class: 'muted' }, `${l.mode === 'update' ? t('modeUpdate') : t('modeCreate')} · ${fieldNames(l)}`)),
      el('td', {}, el('span', { class: `tag ${tone}` }, label), l.expires_at ? el('div', { class: 'muted' }, `${t('until')} ${when(l.expires_at)}`) : null),
      el('td', {}, tone !== 'ok' ? '' : l.url ? shareBox(l.url) : el('span', { class: 'muted' }, t('perRecord'))),
      el('td', {}, l.revoked_at ? '' : el('button', { class: 'small', 'data-revoke-link': l.id, onclick: () => revoke(l) }, t('revoke'))));
  });

  main.innerHTML = '';
  main.append(
    el('div', { class: 'head' }, el('div', {}, el('h1', {}, `${def.title || formKey} · ${t('publicLinks')}`), el('div', { class: 'muted' }, t('publicLinksHelp'))),
      el('div', { class: 'actions' }, el('a', { class: 'btn', href: `#/forms/${formKey}/records` }, t('records')))),
    status,
    made ? el('div', { class: 'notice ok', id: 'made-link' }, made.url ? [t('linkMade'), shareBox(made.url)] : t('linkMadeUpdate')) : null,
    form,
    items.length ? el('table', { class: 'list card', id: 'links', style: 'padding:0;margin-top:12px' },
      el('thead', {}, el('tr', {}, el('th', {}, t('linkTitle')), el('th', {}, ''), el('th', {}, t('linkUrl')), el('th', {}, ''))), el('tbody', {}, rows))
      : el('p', { class: 'muted' }, t('noLinks')));
}

/** On a record's page: the URL of an update link for this record, to send to the customer. */
export async function recordLinks(formKey, id) {
  let items = [];
  try { ({ items } = await get(`/api/v1/forms/${formKey}/public-links`)); } catch { return null; }
  const live = items.filter((l) => l.mode === 'update' && state(l)[0] === 'ok');
  if (!live.length) return null;
  const pick = el('select', { name: 'update-link' }, live.map((l) => el('option', { value: l.id }, `${l.title || l.fields.join(', ')}`)));
  const out = el('div');
  const make = async () => {
    out.innerHTML = '';
    try { out.append(shareBox((await get(`/api/v1/public-links/${pick.value}/url?record=${id}`)).url)); } catch (err) { out.append(el('div', { class: 'notice error' }, err.message)); }
  };
  return el('div', { class: 'card', id: 'record-links', style: 'margin-top:12px' }, el('h2', {}, t('customerLink')),
    el('div', { class: 'actions' }, pick, el('button', { type: 'button', id: 'make-record-link', onclick: make }, t('makeLink'))), out);
}
