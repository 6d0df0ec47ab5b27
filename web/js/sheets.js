// Import (导入) and export (导出) of a form's records.
//
// Import: pick a CSV or Excel file; a check (a dry run on the server) shows
// how its columns map to the form's fields — each can be changed — and which
// rows would be refused and why; then the import runs as a job whose progress
// bar follows GET /api/v1/jobs/{id}. The report of refused rows downloads as a
// CSV. Export: the list's filter and sort, as CSV or Excel, streamed by the server.
import { t } from './i18n.js';
import { instant } from './format.js';
import { api, get } from './api.js';
import { el } from './dom.js';

/** Saves a response body as a file. */
async function save(res, name) {
  const url = URL.createObjectURL(await res.blob());
  const a = el('a', { href: url, download: name });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Downloads the form's records under `filter` and `sort` as `format` (csv or xlsx). */
export async function exportRecords(key, format, filter, sort) {
  const q = new URLSearchParams({ format });
  if (filter) q.set('filter', JSON.stringify(filter));
  if (sort) q.set('sort', sort);
  const res = await api('GET', `/api/v1/forms/${key}/export?${q}`, undefined, { raw: true });
  await save(res, `${key}.${format}`);
}

/** Polls a job until it ends, calling `each` with every reading; the end comes with every column of its mapping. */
async function follow(id, each) {
  for (;;) {
    // The mapping is paged (a file may have 1,000 columns): none while polling, all of it at the end.
    const job = await get(`/api/v1/jobs/${id}?columns_limit=0`);
    each(job);
    if (job.status === 'done' || job.status === 'failed') return get(`/api/v1/jobs/${id}?columns_limit=1000`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

export async function importView(main, key) {
  const f = await get(`/api/v1/forms/${key}`);
  const def = f.definition;
  const props = def.schema.properties || {};
  const derived = new Set([...Object.keys(def.computed || {}), ...Object.keys(def.rollups || {})]);
  const fields = Object.keys(props).filter((k) => !derived.has(k));
  const uniques = (def.unique || []).filter((u) => u.length === 1).map((u) => u[0]);
  const label = (k) => props[k]?.title || k;

  const file = el('input', { type: 'file', id: 'import-file', accept: '.csv,.txt,.xlsx,.xls,.ods,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' });
  const upsert = el('select', { id: 'import-upsert' }, el('option', { value: '' }, t('createOnly')), uniques.map((u) => el('option', { value: u }, t('upsertBy', { f: label(u) }))));
  const events = el('input', { type: 'checkbox', id: 'import-events', checked: true });
  const check = el('button', { id: 'import-check', class: 'primary', disabled: true }, t('checkFile'));
  const run = el('button', { id: 'import-run', class: 'primary', disabled: true }, t('startImport'));
  const bar = el('progress', { id: 'import-progress', max: '1', value: '0', style: 'width:100%;height:14px' });
  const barText = el('div', { class: 'muted', id: 'import-progress-text' });
  const progress = el('div', { class: 'card', style: 'display:none' }, bar, barText);
  const status = el('div', { role: 'status', id: 'import-status' });
  const mapping = el('div', { id: 'import-mapping' });
  const problems = el('div', { id: 'import-errors' });
  /** Column → field changed by hand in the mapping table (the rest map by key or title). */
  let chosen = {};

  file.addEventListener('change', () => { chosen = {}; mapping.innerHTML = ''; problems.innerHTML = ''; status.textContent = ''; check.disabled = !file.files[0]; run.disabled = true; });

  const query = (dry) => {
    const q = new URLSearchParams({ name: file.files[0].name });
    if (dry) q.set('dry_run', 'true');
    if (upsert.value) q.set('upsert_on', upsert.value);
    if (!events.checked) q.set('events', 'false');
    if (Object.keys(chosen).length) q.set('map', JSON.stringify(chosen));
    return q;
  };

  const drawProgress = (job, started) => {
    progress.style.display = '';
    bar.max = Math.max(job.total, 1);
    bar.value = job.done;
    const secs = (Date.now() - started) / 1000;
    const rate = secs > 0.5 && job.done ? ` · ${Math.round(job.done / secs)} ${t('rowsPerSec')}` : '';
    barText.textContent = `${job.done} / ${job.total}${rate}`;
  };

  const drawMapping = (job) => {
    const cols = job.columns || [];
    mapping.innerHTML = '';
    mapping.append(el('h2', {}, t('columnMapping')), el('table', { class: 'list card', style: 'padding:0' },
      el('thead', {}, el('tr', {}, el('th', {}, t('fileColumn')), el('th', {}, t('formField')), el('th', {}, ''))),
      el('tbody', {}, cols.map((c) => {
        const pick = el('select', { 'data-column': c.column }, el('option', { value: '' }, t('dontImport')), fields.map((k) => el('option', { value: k, selected: c.field === k }, label(k))));
        pick.addEventListener('change', () => { chosen[c.column] = pick.value; run.disabled = true; status.className = 'notice'; status.textContent = t('recheck'); });
        return el('tr', {}, el('td', {}, c.column), el('td', {}, pick), el('td', { class: 'muted' }, t(`by_${c.by}`)));
      }))));
  };

  const drawErrors = async (job) => {
    problems.innerHTML = '';
    if (!job.failed) return;
    const { items } = await get(`/api/v1/jobs/${job.id}/errors?format=json&limit=50`);
    const report = el('button', { class: 'small', id: 'import-report', onclick: async () => save(await api('GET', `/api/v1/jobs/${job.id}/errors`, undefined, { raw: true }), `${key}-import-errors.csv`) }, t('downloadReport'));
    problems.append(el('div', { class: 'head' }, el('h2', {}, t('refusedRows', { n: job.failed })), report),
      el('table', { class: 'list card', style: 'padding:0' }, el('thead', {}, el('tr', {}, el('th', {}, t('row')), el('th', {}, t('fileColumn')), el('th', {}, t('reason')))),
        el('tbody', {}, items.map((e) => el('tr', { 'data-error-row': e.row }, el('td', {}, String(e.row)), el('td', {}, e.column || e.field || ''), el('td', {}, e.message))))),
      ...(items.length >= 50 ? [el('p', { class: 'muted' }, t('moreInReport', { n: 50 }))] : []));
  };

  const start = async (dry) => {
    status.className = ''; status.textContent = '';
    check.disabled = true; run.disabled = true;
    const started = Date.now();
    try {
      const job = await api('POST', `/api/v1/forms/${key}/imports?${query(dry)}`, file.files[0], { headers: { 'content-type': file.files[0].type || 'application/octet-stream' } });
      const end = await follow(job.id, (j) => drawProgress(j, started));
      if (end.status === 'failed') throw new Error(end.error || 'failed');
      drawMapping(end);
      await drawErrors(end);
      status.className = `notice ${end.failed ? 'error' : 'ok'}`;
      status.textContent = dry
        ? t('checked', { total: end.total, c: end.created, u: end.updated, s: end.unchanged, f: end.failed })
        : t('imported', { total: end.total, c: end.created, u: end.updated, s: end.unchanged, f: end.failed });
      run.disabled = !dry;
    } catch (err) {
      status.className = 'notice error';
      status.textContent = err.message;
    } finally {
      check.disabled = !file.files[0];
    }
  };
  // Options changed after a check: check again before importing.
  for (const input of [upsert, events]) input.addEventListener('change', () => { run.disabled = true; });
  check.addEventListener('click', () => start(true));
  run.addEventListener('click', () => start(false));

  const { items: jobs } = await get('/api/v1/jobs');
  const recent = jobs.filter((j) => j.form === key && j.kind === 'import').slice(0, 10);
  main.innerHTML = '';
  main.append(el('div', { class: 'head' }, el('h1', {}, `${def.title || key} · ${t('import')}`), el('a', { class: 'btn', href: `#/forms/${key}/records` }, t('records'))),
    el('div', { class: 'card' },
      el('p', { class: 'muted' }, t('importHint')),
      el('div', { class: 'row4' },
        el('div', {}, el('label', { for: 'import-file' }, t('file')), file),
        el('div', {}, el('label', { for: 'import-upsert' }, t('existing')), upsert),
        el('div', {}, el('label', { class: 'check' }, events, t('fireEvents')))),
      el('div', { class: 'actions', style: 'margin-top:10px' }, check, run)),
    progress, status, mapping, problems,
    ...(recent.length ? [el('div', {}, el('h2', {}, t('recentImports')), el('table', { class: 'list card', style: 'padding:0' }, el('tbody', {}, recent.map((j) => el('tr', {},
      el('td', {}, j.file_name), el('td', { class: 'muted' }, instant(j.created_at)), el('td', {}, j.options?.dry_run ? t('checkFile') : t('import')),
      el('td', {}, j.status === 'done' ? t('summary', { c: j.created, u: j.updated, s: j.unchanged, f: j.failed }) : `${j.status} ${j.done}/${j.total}`))))))] : []));
}
