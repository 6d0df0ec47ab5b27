// Safe publishing: before a changed form is published, the dialog shows what
// it does to the records already stored — computed by the server's dry run
// (POST …/simulate): how many would stop validating (with examples by title),
// fields whose data would be dropped or retyped, segment moves. A field the
// new version requires that records lack needs a fix chosen here: a default
// filled into those records (published with ?backfill=defaults, then a
// progress bar follows the job), or "required for new records only"
// (`required_for_new`). 发布 stays disabled until every such field has one.
import { t } from './i18n.js';
import { el, kindOf } from './dom.js';
import { get, post, put } from './api.js';

const TYPE = { string: 'type_string', number: 'type_number', integer: 'type_integer', boolean: 'type_boolean', array: 'type_array', object: 'type_object' };
const typeNames = (ts) => (ts.length ? ts.map((x) => t(TYPE[x] || x)).join('/') : t('type_any'));

/** An input for a default of the field `s` (a JSON Schema property), matching its kind; `value()` reads it typed. */
function valueInput(s, name) {
  const kind = kindOf(s, {});
  if (kind === 'select' || kind === 'checkbox') {
    const options = kind === 'checkbox' ? [['true', t('yes')], ['false', t('no')]] : (s.enum || []).map((o) => [String(o), String(o)]);
    const input = el('select', { name, 'aria-label': t('fixValue') }, el('option', { value: '' }, t('pleaseChoose')), options.map(([v, label]) => el('option', { value: v }, label)));
    return { input, value: () => (input.value === '' ? undefined : kind === 'checkbox' ? input.value === 'true' : (s.enum || []).find((o) => String(o) === input.value)) };
  }
  const type = kind === 'date' ? 'date' : kind === 'datetime' ? 'datetime-local' : ['number', 'money', 'rating', 'nps'].includes(kind) ? 'number' : kind === 'email' ? 'email' : 'text';
  const input = el('input', { name, type, 'aria-label': t('fixValue'), placeholder: t('fixValue') });
  return {
    input,
    value: () => {
      const v = input.value.trim();
      if (v === '') return undefined;
      if (type === 'number') return Number.isNaN(Number(v)) ? undefined : Number(v);
      if (type === 'datetime-local') return new Date(v).toISOString();
      return v;
    },
  };
}

/** What the dry run says about the stored records, as list items. */
function impactItems(sim, before, after) {
  const title = (def, k) => def?.schema?.properties?.[k]?.title || k;
  const v = sim.validation || {};
  const items = [el('li', { id: 'impact-records' }, t('impactRecords', { n: sim.records }))];
  if (v.invalid) {
    items.push(el('li', { id: 'impact-invalid', class: 'bad' }, t('impactInvalid', { n: v.invalid }),
      el('ul', { class: 'examples' }, (v.examples || []).map((x) => el('li', {}, el('strong', {}, String(x.title ?? x.id)), '：', x.errors.map((e) => e.message).join('；'))))));
  } else items.push(el('li', { id: 'impact-invalid' }, t('impactNone')));
  if (v.already_invalid) items.push(el('li', { class: 'muted' }, t('impactAlreadyInvalid', { n: v.already_invalid })));
  for (const d of v.dropped || []) items.push(el('li', { class: 'impact-dropped' }, t('impactDropped', { f: d.title || title(before, d.field), n: d.records })));
  for (const r of v.retyped || []) items.push(el('li', { class: 'impact-retyped' }, t('impactRetyped', { f: r.title || title(after, r.field), from: typeNames(r.from), to: typeNames(r.to), n: r.records })));
  for (const s of (sim.segments || []).filter((x) => x.changed)) {
    const values = [...new Set([...Object.keys(s.before), ...Object.keys(s.after)])];
    items.push(el('li', { class: 'impact-segment' }, t('impactSegment', { s: s.segment, n: s.changed }), ' ', values.map((k) => `${k}: ${s.before[k] || 0} → ${s.after[k] || 0}`).join('，')));
  }
  if (sim.failed) items.push(el('li', { class: 'bad' }, t('impactRulesFailed', { n: sim.failed, e: sim.first_error || '' })));
  if (sim.stopped) items.push(el('li', { class: 'muted' }, t('impactStopped', { why: sim.stopped })));
  return items;
}

/**
 * Asks about publishing `next` over `current` (a stored form) and publishes it.
 * `items` is the change summary; `onPublished(saved, job)` hears of the new
 * version (and of the backfill job, when one runs); `status` shows progress.
 * Returns the fixes chosen, so the caller's model can follow them.
 */
export async function publishWithImpact({ key, current, next, items, status, onPublished, onFixes }) {
  status.className = 'notice'; status.textContent = t('impactChecking');
  let sim;
  try {
    sim = await post(`/api/v1/forms/${key}/simulate`, next);
  } catch (err) {
    status.className = 'notice error';
    status.textContent = [err.message, ...(err.errors || []).map((e) => `${e.pointer}: ${e.message}`)].join(' — ');
    return;
  }
  status.className = ''; status.textContent = '';
  const missing = sim.validation?.required || [];
  const fixes = missing.map((m) => {
    const s = next.schema.properties[m.field] || {};
    const value = valueInput(s, `fix-value-${m.field}`);
    if (s.default !== undefined) value.input.value = String(s.default);
    const choice = (v, label, extra) => {
      const r = el('input', { type: 'radio', name: `fix-${m.field}`, value: v });
      return el('label', { class: 'check' }, r, label, extra || null);
    };
    const box = el('fieldset', { class: 'fix', 'data-field': m.field }, el('legend', {}, t('impactMissing', { f: m.title, n: m.missing })),
      choice('default', t('fixDefault'), value.input), choice('new', t('fixNewOnly')));
    return { field: m.field, box, value, chosen: () => box.querySelector('input[type=radio]:checked')?.value };
  });
  const confirm = el('button', { class: 'primary', value: 'ok', id: 'confirm-publish' }, t('confirm'));
  const ready = () => fixes.every((f) => f.chosen() === 'new' || (f.chosen() === 'default' && f.value.value() !== undefined));
  const refresh = () => { confirm.disabled = !ready(); };
  for (const f of fixes) {
    f.box.addEventListener('change', refresh);
    f.box.addEventListener('input', refresh);
    // Typing a default chooses it.
    f.value.input.addEventListener('input', () => { f.box.querySelector('input[value=default]').checked = true; refresh(); });
    f.value.input.addEventListener('change', () => { if (f.value.value() !== undefined) f.box.querySelector('input[value=default]').checked = true; refresh(); });
  }
  refresh();
  const dialog = el('dialog', { id: 'publish-dialog' }, el('form', { method: 'dialog' }, el('h2', {}, t('changeSummary')),
    items.length ? el('ul', { class: 'summary' }, items) : el('p', { class: 'muted' }, t('nochange')),
    el('h3', {}, t('impact')), el('ul', { class: 'summary impact' }, impactItems(sim, current.definition, next)),
    fixes.length ? el('div', { class: 'fixes' }, el('p', {}, t('impactChoose')), fixes.map((f) => f.box)) : null,
    el('div', { class: 'actions', style: 'justify-content:flex-end;margin-top:14px' }, el('button', { type: 'button', onclick: () => dialog.close('cancel') }, t('cancel')), confirm)));
  document.body.append(dialog);
  dialog.showModal();
  dialog.addEventListener('close', async () => {
    dialog.remove();
    if (dialog.returnValue !== 'ok' || !ready()) return;
    const body = structuredClone(next);
    const chosen = fixes.map((f) => ({ field: f.field, how: f.chosen(), value: f.value.value() }));
    for (const c of chosen) {
      if (c.how === 'default') body.schema.properties[c.field].default = c.value;
      else {
        body.schema.required = (body.schema.required || []).filter((k) => k !== c.field);
        if (!body.schema.required.length) delete body.schema.required;
        body.required_for_new = [...new Set([...(body.required_for_new || []), c.field])];
      }
    }
    const backfill = chosen.some((c) => c.how === 'default');
    try {
      const saved = await put(`/api/v1/forms/${key}${backfill ? '?backfill=defaults' : ''}`, body, { headers: { 'if-match': `"${current.version}"` } });
      onFixes?.(chosen);
      onPublished(saved);
      if (saved.backfill_job) await follow(saved.backfill_job, status, saved.version);
    } catch (err) {
      status.className = 'notice error';
      status.textContent = [err.message, ...(err.errors || []).map((e) => `${e.pointer}: ${e.message}`)].join(' — ');
    }
  });
}

/** Follows a backfill job with a progress bar until it ends. */
async function follow(id, status, version) {
  const bar = el('progress', { id: 'backfill-progress', max: 1, value: 0 });
  const text = el('span', { id: 'backfill-status' });
  status.className = 'notice ok';
  status.replaceChildren(el('div', {}, t('published', { v: version })), el('div', {}, bar, ' ', text));
  for (;;) {
    let job;
    try { job = await get(`/api/v1/jobs/${id}`); } catch { await new Promise((r) => setTimeout(r, 1000)); continue; }
    bar.max = Math.max(job.total, 1);
    bar.value = job.status === 'done' ? bar.max : job.done;
    if (job.status === 'done') {
      text.textContent = t('backfillDone', { n: job.updated }) + (job.failed ? ` ${t('backfillSomeFailed', { n: job.failed })}` : '');
      text.dataset.state = 'done';
      return;
    }
    if (job.status === 'failed') {
      status.className = 'notice error';
      text.textContent = t('backfillFailed', { why: job.error || '' });
      text.dataset.state = 'failed';
      return;
    }
    text.textContent = t('backfilling', { done: job.done, total: job.total });
    await new Promise((r) => setTimeout(r, 500));
  }
}
