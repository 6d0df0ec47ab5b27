// The pack gallery: bundled packs with their description and an install
// button, the installed ones with export, and upload of a pack archive.
import { t } from './i18n.js';
import { api, get, ApiError } from './api.js';
import { el } from './dom.js';


function describe(report) {
  const n = (a) => report.changes.filter((c) => c.action === a).length;
  const parts = [`${report.name} ${report.from && report.from !== report.to ? `${report.from} → ` : ''}${report.to}`, `${t('added')} ${n('add')}`, `${t('changed')} ${n('update')}`];
  if (report.conflicts.length) parts.push(`conflicts ${report.conflicts.length}`);
  return parts.join(' · ');
}

function problem(err) {
  if (!(err instanceof ApiError)) return String(err);
  const lines = err.errors.map((e) => (e.file ? `${e.file}:${e.line}:${e.column}: ${e.message}` : `${e.pointer}: ${e.message}`));
  return [err.message, ...lines.slice(0, 8)].join('\n');
}

export async function packsView(main, note = null) {
  const data = await get('/api/v1/packs');
  const installed = new Map(data.items.map((p) => [p.name, p]));
  const status = el('pre', { role: 'status', id: 'pack-status', class: 'notice', style: 'display:none; white-space:pre-wrap' });
  const show = (ok, text) => { status.style.display = ''; status.className = `notice ${ok ? 'ok' : 'error'}`; status.textContent = text; };
  const file = el('input', { type: 'file', accept: '.tar.gz,.tgz,.zip,application/gzip,application/zip', id: 'pack-file', class: 'visually-hidden' });
  const upload = async () => {
    const f = file.files[0];
    if (!f) return;
    file.value = '';
    try { await packsView(main, [true, describe(await api('POST', '/api/v1/packs', f, { headers: { 'content-type': f.type || 'application/octet-stream' } }))]); }
    catch (err) { show(false, problem(err)); }
  };
  file.addEventListener('change', upload);
  const download = async (name) => {
    const res = await api('GET', `/api/v1/packs/${name}/export`, undefined, { raw: true });
    const url = URL.createObjectURL(await res.blob());
    const a = el('a', { href: url, download: `${name}.tar.gz` });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  main.innerHTML = '';
  main.append(el('div', { class: 'head' }, el('h1', {}, t('packs')), el('div', { class: 'actions' }, el('label', { class: 'btn', style: 'margin:0' }, t('upload'), file))), status,
    el('h2', {}, t('bundled')),
    el('div', { class: 'grid' }, data.bundled.map((p) => {
      const inst = installed.get(p.name);
      return el('div', { class: 'card', 'data-pack': p.name }, el('div', { style: 'display:flex;justify-content:space-between;gap:8px' }, el('strong', {}, p.title || p.name), el('span', { class: 'muted' }, `v${p.version}`)),
        el('p', { class: 'muted' }, p.description || ''),
        el('div', { class: 'actions' }, inst ? el('span', { class: 'tag ok' }, `${t('installed')} v${inst.version}`) : null,
          el('button', { class: inst ? '' : 'primary', 'data-install': p.name, onclick: async (e) => {
            e.target.disabled = true;
            try { await packsView(main, [true, describe(await api('POST', `/api/v1/packs?bundled=${encodeURIComponent(p.name)}`))]); }
            catch (err) { show(false, problem(err)); e.target.disabled = false; }
          } }, t('install'))));
    })),
    el('h2', { style: 'margin-top:22px' }, t('installed')),
    data.items.length ? el('table', { class: 'list card', style: 'padding:0' }, el('thead', {}, el('tr', {}, el('th', {}, t('packs')), el('th', {}, t('version')), el('th', {}, t('definitions')), el('th'))),
      el('tbody', {}, data.items.map((p) => el('tr', {}, el('td', {}, p.title || p.name), el('td', {}, p.version), el('td', {}, String(p.definitions.length)),
        el('td', {}, el('button', { class: 'small', 'data-export': p.name, onclick: () => download(p.name).catch((err) => show(false, problem(err))) }, t('export')))))))
      : el('p', { class: 'muted' }, '—'));
  if (note) show(...note);
}
