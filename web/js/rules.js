// The rules editor of one form: its computed fields and segments in a code
// editor with rhai highlighting; as you type, the server compiles and runs
// the script against a sample record (POST /api/v1/scripts/test) and the
// error is shown at its line; "test on a record" runs it on a stored one.
// Saving publishes the form with its new rules (PUT /api/v1/forms/{key}).
import { t } from './i18n.js';
import { get, post, put, ApiError } from './api.js';
import './code-editor.js';
import { el, problemText } from './dom.js';
import { catalogOf, allForms, segmentInput, formulaInput, conditionInput, ready } from './builders.js';
import { readSegment, writeSegment, emptySegment, readFormula } from './conditions.js';


export async function rulesView(main, key) {
  const form = await get(`/api/v1/forms/${key}`);
  let def = structuredClone(form.definition);
  let version = form.version;
  const page = await get(`/api/v1/forms/${key}/records?limit=20`);
  const forms = await allForms();
  await ready();
  // Segments see the segments defined before them; the pickers offer every one (the engine checks the order).
  const catalog = () => catalogOf(def, { forms });
  const title = (r) => String((def.title_field && r.data[def.title_field]) || r.id);
  let current = null; // ['segments'|'computed', key]
  const scripted = new Set(); // computed fields switched to the code editor
  main.innerHTML = '';
  const list = el('div', { class: 'card' });
  const editor = el('div', { class: 'card' });
  const status = el('div', { role: 'status' });
  main.append(el('div', { class: 'head' }, el('div', {}, el('h1', {}, `${def.title || key} · ${t('rules')}`), el('div', { class: 'muted' }, `v${version}`)),
    el('div', { class: 'actions' }, el('a', { class: 'btn', href: `#/forms/${key}/design` }, t('design')), el('button', { class: 'primary', id: 'save-rules', onclick: save }, t('save')))), status,
    el('div', { class: 'rules' }, list, editor));

  function drawList() {
    list.innerHTML = '';
    for (const [group, label] of [['computed', t('computed')], ['rollups', t('rollups')], ['segments', t('segments')]]) {
      list.append(el('h2', { style: 'margin-top:6px' }, label));
      for (const k of Object.keys(def[group] || {})) {
        const on = current && current[0] === group && current[1] === k;
        const name = group === 'segments' ? def.segments[k].title : def.ui?.widgets?.[k]?.title;
        list.append(el('div', { class: 'rule' + (on ? ' on' : ''), 'data-rule': `${group}/${k}`, tabindex: '0', onclick: () => pick(group, k), onkeydown: (e) => e.key === 'Enter' && pick(group, k) },
          el('div', {}, name || k), el('div', { class: 'muted' }, group === 'segments' ? `${k} · ${t(`sk_${def.segments[k].kind}`)}` : name ? k : '')));
      }
      list.append(el('button', { class: 'small', 'data-add': group, onclick: () => add(group) }, '+ ' + t('addRule')));
    }
  }

  /** Opens a rule chosen in the list; on a phone, where the editor sits below the list, brings it into view. */
  function pick(group, k) {
    open(group, k);
    if (matchMedia('(max-width: 900px)').matches) editor.scrollIntoView({ block: 'start' });
  }

  function add(group) {
    const taken = new Set(Object.keys(def[group] || {}));
    let n = 1;
    while (taken.has(`${{ segments: 'segment', computed: 'computed', rollups: 'rollup' }[group]}_${n}`)) n++;
    const k = `${{ segments: 'segment', computed: 'computed', rollups: 'rollup' }[group]}_${n}`;
    const children = linkingForms();
    const fresh = { segments: { kind: 'label', script: writeSegment('label', emptySegment('label')) }, computed: '', rollups: { from: children[0]?.[0] || '', via: children[0]?.[1] || '', op: 'count' } }[group];
    def[group] = { ...(def[group] || {}), [k]: fresh };
    open(group, k);
  }

  function scriptOf(group, k) { return group === 'segments' ? def.segments[k].script : def.computed[k]; }
  function setScript(group, k, src) { if (group === 'segments') def.segments[k].script = src; else def.computed[k] = src; }

  function open(group, k) {
    current = [group, k];
    drawList();
    editor.innerHTML = '';
    const keyInput = el('input', { value: k, name: 'rule-key', pattern: '[a-z][a-z0-9_]*' });
    keyInput.addEventListener('change', () => {
      const nk = keyInput.value.trim();
      const bad = !/^[a-z][a-z0-9_]*$/.test(nk) ? 'a–z, 0–9, _' : nk !== k && def[group][nk] ? `${nk} ✕` : '';
      keyInput.setCustomValidity(bad);
      if (bad || nk === k) return;
      def[group] = Object.fromEntries(Object.entries(def[group]).map(([a, b]) => [a === k ? nk : a, b]));
      open(group, nk);
    });
    editor.append(el('label', {}, t('ruleKey')), keyInput);
    if (group === 'segments') {
      const seg = def.segments[k];
      const kind = el('select', { name: 'rule-kind' }, ['label', 'labels', 'score', 'flag'].map((x) => el('option', { value: x, selected: seg.kind === x }, t(`sk_${x}`))));
      kind.addEventListener('change', () => {
        // A rule the builder made starts afresh in the new kind's builder; a hand-written one is kept.
        const built = readSegment(seg.kind, typeof seg.script === 'string' ? seg.script : '') !== null;
        seg.kind = kind.value;
        if (built) seg.script = writeSegment(seg.kind, emptySegment(seg.kind));
        open(group, k);
      });
      const segTitle = el('input', { value: seg.title || '', name: 'rule-title' });
      segTitle.addEventListener('input', () => { seg.title = segTitle.value || undefined; });
      editor.append(el('div', { class: 'row2', style: 'display:grid;grid-template-columns:1fr 1fr;gap:8px' }, el('div', {}, el('label', {}, t('kind')), kind), el('div', {}, el('label', {}, t('label')), segTitle)));
    }
    if (group === 'segments') return openSegment(k);
    if (group === 'rollups') return openRollup(k);
    if (!scripted.has(k) && (readFormula(def.computed[k]) || !String(def.computed[k] || '').trim())) return openFormula(k);
    const code = el('code-editor', { label: k });
    code.value = scriptOf(group, k);
    const sample = el('textarea', { rows: 5, name: 'sample', spellcheck: 'false', style: 'font-family: var(--mono); font-size: 12px' }, JSON.stringify(page.items[0]?.data || {}, null, 2));
    const result = el('div', { class: 'result', id: 'rule-result' });
    const recordSel = el('select', { name: 'record' }, page.items.map((r) => el('option', { value: r.id }, title(r))));
    const run = async (body) => {
      try {
        const out = await post('/api/v1/scripts/test', body);
        code.setError(null);
        result.className = 'result'; result.textContent = `${t('value')}: ${JSON.stringify(out.value)}`;
      } catch (err) {
        const e = err instanceof ApiError ? err.errors[0] : null;
        code.setError(e?.line ?? null);
        result.className = 'result error';
        result.textContent = e ? problemText(e) : err.message;
      }
    };
    const sampleRun = () => {
      let record;
      try { record = JSON.parse(sample.value || '{}'); } catch (e) { result.className = 'result error'; result.textContent = `${t('sample')}: ${e.message}`; return; }
      run({ script: code.value, record });
    };
    let timer;
    code.addEventListener('change', () => { setScript(group, k, code.value); clearTimeout(timer); timer = setTimeout(sampleRun, 350); });
    editor.append(el('label', {}, 'rhai'), code, result,
      el('label', {}, t('sample')), sample,
      el('div', { class: 'actions', style: 'margin-top:8px' }, el('button', { id: 'rule-test', onclick: sampleRun }, t('test')),
        page.items.length ? recordSel : null,
        page.items.length ? el('button', { id: 'rule-test-record', onclick: () => run({ script: code.value, form: key, record_id: recordSel.value }) }, t('testOn')) : null,
        el('button', { class: 'danger small', style: 'margin-left:auto', onclick: () => { delete def[group][k]; current = null; drawList(); editor.innerHTML = ''; } }, t('removeRule'))));
    sampleRun();
  }

  /** [child form, its link field] pairs: the forms whose records link to this one. */
  function linkingForms() {
    const out = [];
    for (const [fk, fd] of Object.entries(forms)) for (const [p, ps] of Object.entries(fd.schema?.properties || {})) if (ps['x-link'] === key) out.push([fk, p]);
    return out;
  }

  /** A rollup picked from lists: which linked records, how combined, over which window, kept by a condition on the child. */
  function openRollup(k) {
    const r = def.rollups[k];
    const box = el('div', { class: 'sb-body', 'data-rollup': k });
    const draw = () => {
      const child = forms[r.from] || {};
      const props = Object.entries(child.schema?.properties || {});
      const fieldsOf = (pred) => props.filter(([, ps]) => pred(ps)).map(([p, ps]) => [p, ps.title || p]);
      const pick = (name, options, value, onChange, label) => {
        const sel = el('select', { name, 'aria-label': label, 'data-pointer': `/rollups/${k}/${name.replace('rollup-', '')}` }, options.map(([v, l]) => el('option', { value: v, selected: v === (value ?? '') }, l)));
        sel.addEventListener('change', () => onChange(sel.value));
        return sel;
      };
      const set = (key2) => (v) => { if (v === '' || v === undefined) delete r[key2]; else r[key2] = v; };
      const links = linkingForms();
      const from = pick('rollup-from', links.map(([f, p]) => [`${f}/${p}`, `${forms[f].title || f} · ${forms[f].schema.properties[p].title || p}`]), `${r.from}/${r.via}`, (v) => { [r.from, r.via] = v.split('/'); delete r.field; delete r.date; delete r.filter; draw(); }, t('rollupFrom'));
      const op = pick('rollup-op', ['count', 'sum', 'avg', 'min', 'max', 'latest'].map((o) => [o, t(`ro_${o}`)]), r.op, (v) => { r.op = v; if (v === 'count') delete r.field; draw(); }, t('rollupOp'));
      const numeric = (ps) => ps.type === 'number' || ps.type === 'integer';
      const dated = (ps) => ['date', 'date-time'].includes(ps.format);
      const field = r.op === 'count' ? null : pick('rollup-field', [['', t('pickField')], ...fieldsOf(['sum', 'avg'].includes(r.op) ? numeric : () => true)], r.field, (v) => { set('field')(v); }, t('rollupField'));
      const days = el('input', { type: 'number', min: 1, step: 1, name: 'rollup-within', class: 'cb-num', value: r.within_days ?? '', placeholder: t('allTime'), 'aria-label': t('rollupWithin') });
      days.addEventListener('input', () => { if (days.value) r.within_days = Number(days.value); else delete r.within_days; });
      const date = pick('rollup-date', [['', t('createdTime')], ...fieldsOf(dated)], r.date, set('date'), t('rollupDate'));
      const childCatalog = r.from && forms[r.from] ? catalogOf(forms[r.from], { forms }) : [];
      box.replaceChildren(
        el('div', { class: 'cb-head' }, t('rollupFrom'), from), el('div', { class: 'cb-head' }, t('rollupOp'), op, field),
        el('div', { class: 'cb-head' }, t('rollupWithin'), days, t('days'), t('rollupDate'), date),
        el('label', {}, t('rollupFilter')),
        conditionInput({ value: r.filter, catalog: childCatalog, label: 'rollup filter', pointer: `/rollups/${k}/filter`, emptyText: t('allChildren'), onChange: (src) => { if (src) r.filter = src; else delete r.filter; } }));
    };
    draw();
    editor.append(box, el('div', { class: 'actions', style: 'margin-top:10px' },
      el('button', { class: 'danger small', style: 'margin-left:auto', onclick: () => { delete def.rollups[k]; current = null; drawList(); editor.innerHTML = ''; } }, t('removeRule'))));
  }

  /** A computed field as a formula picked from lists, its result on a stored record (or an empty one) as it changes. */
  function openFormula(k) {
    const result = el('div', { class: 'result', id: 'rule-result', 'aria-live': 'polite' });
    const recordSel = el('select', { name: 'record', 'aria-label': t('pickRecord'), style: 'width:auto' }, page.items.map((r) => el('option', { value: r.id }, title(r))));
    const run = async () => {
      const script = def.computed[k];
      if (!script) { result.className = 'result'; result.textContent = '—'; return; }
      try {
        const out = await post('/api/v1/scripts/test', page.items.length ? { script, form: key, record_id: recordSel.value } : { script, record: {} });
        result.className = 'result'; result.textContent = out.value === null || out.value === undefined ? t('noValue') : JSON.stringify(out.value);
      } catch (err) {
        const e = err instanceof ApiError ? err.errors[0] : null;
        result.className = 'result error'; result.textContent = e ? e.message : err.message;
      }
    };
    let timer;
    recordSel.addEventListener('change', run);
    editor.append(formulaInput({ value: def.computed[k] || '', catalog: catalog().filter((f) => f.path !== `record.${k}`), onChange: (src) => { def.computed[k] = src; clearTimeout(timer); timer = setTimeout(run, 350); } }),
      el('div', { class: 'cb-head', style: 'margin-top:8px' }, t('formulaResult'), page.items.length ? recordSel : null, result),
      el('div', { class: 'actions', style: 'margin-top:8px' },
        el('button', { class: 'small', 'data-to-script': '', onclick: () => { scripted.add(k); open('computed', k); } }, t('editAsScript')),
        el('button', { class: 'danger small', style: 'margin-left:auto', onclick: () => { delete def.computed[k]; current = null; drawList(); editor.innerHTML = ''; } }, t('removeRule'))));
    run();
  }

  /** A segment in its builder, with how the records would spread under it (the server's simulation). */
  function openSegment(k) {
    const seg = def.segments[k];
    const spread = el('div', { class: 'spread', id: 'segment-spread', 'aria-live': 'polite' });
    // A simulation reads every stored record: it runs when asked, not on every keystroke; an edit marks the spread shown as out of date.
    const builder = segmentInput({ seg, catalog: catalog(), onChange: (src) => {
      seg.script = src;
      if (!spread.querySelector('.stale')) spread.prepend(el('div', { class: 'notice stale' }, t('spreadStale')));
    } });
    editor.append(el('label', {}, t('segmentRule')), builder,
      el('div', { class: 'actions', style: 'margin-top:10px' },
        el('button', { id: 'segment-simulate', onclick: () => simulate(k, spread) }, t('whatWouldMove')),
        el('button', { class: 'danger small', style: 'margin-left:auto', onclick: () => { delete def.segments[k]; current = null; drawList(); editor.innerHTML = ''; } }, t('removeRule'))),
      spread);
    simulate(k, spread);
  }

  let simulating = 0;
  async function simulate(k, box) {
    const mine = ++simulating;
    box.replaceChildren(el('div', { class: 'muted' }, t('simulating')));
    try {
      const sim = await post(`/api/v1/forms/${key}/simulate`, def);
      if (mine !== simulating) return;
      const shift = sim.segments.find((x) => x.segment === k);
      const values = def.segments[k]?.values || {};
      const name = (v) => values[v] ? `${values[v]}` : v === '(none)' ? t('noValue') : v;
      const keys = [...new Set([...Object.keys(shift?.before || {}), ...Object.keys(shift?.after || {})])];
      const most = Math.max(1, ...keys.map((v) => Math.max(shift.before[v] || 0, shift.after[v] || 0)));
      const bar = (n, cls) => el('span', { class: `bar ${cls}`, style: `width:${Math.round((n / most) * 100)}%` });
      box.replaceChildren(
        el('h3', {}, t('spreadTitle', { n: sim.records })),
        sim.failed ? el('div', { class: 'notice error' }, t('simFailed', { n: sim.failed }), sim.first_error ? ` — ${sim.first_error}` : '') : '',
        el('table', { class: 'spread-table' }, el('thead', {}, el('tr', {}, el('th', {}, t('segmentValue')), el('th', { class: 'num' }, t('nowCount')), el('th', { class: 'num' }, t('afterCount')), el('th', { class: 'spread-bars' }, ''))),
          el('tbody', {}, keys.map((v) => el('tr', { 'data-value': v }, el('td', {}, name(v)), el('td', { class: 'num' }, String(shift.before[v] || 0)), el('td', { class: 'num' }, String(shift.after[v] || 0)),
            el('td', { class: 'spread-bars' }, bar(shift.before[v] || 0, 'before'), bar(shift.after[v] || 0, 'after')))))),
        el('p', { class: 'muted', id: 'segment-moves' }, shift?.changed ? t('wouldMove', { n: shift.changed }) + Object.entries(shift.moves).map(([m, n]) => `${m.split(' → ').map(name).join(' → ')}：${n}`).join('；') : t('nothingMoves')));
    } catch (err) {
      if (mine !== simulating) return;
      box.replaceChildren(el('div', { class: 'notice error' }, [err.message, ...(err.errors || []).map(problemText)].join(' — ')));
    }
  }

  async function save() {
    status.className = ''; status.textContent = '';
    try {
      const saved = await put(`/api/v1/forms/${key}`, def, { headers: { 'if-match': `"${version}"` } });
      version = saved.version;
      def = structuredClone(saved.definition);
      status.className = 'notice ok'; status.textContent = t('published', { v: version });
      // The editors held the old definition's objects: open the rule again on the saved one.
      if (current && def[current[0]]?.[current[1]] !== undefined) open(...current); else { current = null; drawList(); editor.innerHTML = ''; }
    } catch (err) {
      status.className = 'notice error';
      status.textContent = [err.message, ...(err.errors || []).map(problemText)].join(' — ');
    }
  }

  drawList();
  const first = Object.keys(def.segments || {})[0];
  if (first) open('segments', first);
}
