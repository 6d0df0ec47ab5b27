// The trash (回收站): deleted records of a form, newest first, each with
// who deleted it and when; an admin restores one with a click.
import { t } from './i18n.js';
import { get, post } from './api.js';
import { el, toast } from './dom.js';
import { display, fieldTitle, instant } from './format.js';

export async function trashView(main, params) {
  const forms = (await get('/api/v1/forms')).items;
  const key = params.get('form') || forms[0]?.key;
  const f = forms.find((x) => x.key === key);
  main.innerHTML = '';
  const pick = el('select', { id: 'trash-form', 'aria-label': t('forms'), title: t('forms') }, forms.map((x) => el('option', { value: x.key, selected: x.key === key }, x.title || x.key)));
  pick.addEventListener('change', () => { location.hash = `#/settings/trash?form=${pick.value}`; });
  main.append(el('div', { class: 'head' }, el('div', {}, el('h1', {}, t('trash')), el('div', { class: 'muted' }, t('trashHelp'))), el('div', { class: 'actions' }, pick)));
  if (!f) return;
  const def = f.definition;
  const page = await get(`/api/v1/forms/${key}/records?deleted=true&limit=100`);
  const cols = [def.title_field || Object.keys(def.schema.properties)[0], ...Object.keys(def.schema.properties).filter((k) => k !== def.title_field).slice(0, 3)];
  if (!page.items.length) { main.append(el('p', { class: 'muted', id: 'trash-empty' }, t('trashEmptyOf', { f: f.title || key }))); return; }
  main.append(el('div', { class: 'scroll-x card', style: 'padding:0' }, el('table', { class: 'list', id: 'trash' },
    el('thead', {}, el('tr', {}, cols.map((c) => el('th', {}, fieldTitle(def, c))), el('th', {}, t('deletedAt')), el('th', {}))),
    el('tbody', {}, page.items.map((r) => el('tr', { 'data-record': r.id }, cols.map((c) => el('td', {}, display(def, c, r.data[c]))),
      el('td', {}, r.deleted_at ? instant(r.deleted_at) : ''),
      el('td', {}, el('button', { class: 'small', 'data-restore': r.id, onclick: async () => {
        await post(`/api/v1/forms/${key}/records/${r.id}/restore`);
        toast(t('restored'));
        await trashView(main, params);
      } }, t('restore')))))))));
}
