// The rules editor of one form: its computed fields and segments in a code
// editor with rhai highlighting; as you type, the server compiles and runs
// the script against a sample record (POST /api/v1/scripts/test) and the
// error is shown at its line; "test on a record" runs it on a stored one.
// Saving publishes the form with its new rules (PUT /api/v1/forms/{key}).
import { t } from './i18n.js';
import { get, post, put, ApiError } from './api.js';
import './code-editor.js';
import { el } from './dom.js';


export async function rulesView(main, key) {
  const form = await get(`/api/v1/forms/${key}`);
  let def = structuredClone(form.definition);
  let version = form.version;
  const page = await get(`/api/v1/forms/${key}/records?limit=20`);
  const title = (r) => String((def.title_field && r.data[def.title_field]) || r.id);
  let current = null; // ['segments'|'computed', key]
  main.innerHTML = '';
  const list = el('div', { class: 'card' });
  const editor = el('div', { class: 'card' });
  const status = el('div', { role: 'status' });
  main.append(el('div', { class: 'head' }, el('div', {}, el('h1', {}, `${def.title || key} · ${t('rules')}`), el('div', { class: 'muted' }, `v${version}`)),
    el('div', { class: 'actions' }, el('a', { class: 'btn', href: `#/forms/${key}/design` }, t('design')), el('button', { class: 'primary', id: 'save-rules', onclick: save }, t('save')))), status,
    el('div', { class: 'rules' }, list, editor));

  function drawList() {
    list.innerHTML = '';
    for (const [group, label] of [['computed', t('computed')], ['segments', t('segments')]]) {
      list.append(el('h2', { style: 'margin-top:6px' }, label));
      for (const k of Object.keys(def[group] || {})) {
        const on = current && current[0] === group && current[1] === k;
        list.append(el('div', { class: 'rule' + (on ? ' on' : ''), 'data-rule': `${group}/${k}`, tabindex: '0', onclick: () => open(group, k), onkeydown: (e) => e.key === 'Enter' && open(group, k) },
          el('div', {}, k), group === 'segments' ? el('div', { class: 'muted' }, def.segments[k].kind) : null));
      }
      list.append(el('button', { class: 'small', 'data-add': group, onclick: () => add(group) }, '+ ' + t('addRule')));
    }
  }

  function add(group) {
    const taken = new Set(Object.keys(def[group] || {}));
    let n = 1;
    while (taken.has(`${group === 'segments' ? 'segment' : 'computed'}_${n}`)) n++;
    const k = `${group === 'segments' ? 'segment' : 'computed'}_${n}`;
    def[group] = { ...(def[group] || {}), [k]: group === 'segments' ? { kind: 'label', script: '"A"' } : '0' };
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
      const kind = el('select', { name: 'rule-kind' }, ['label', 'labels', 'score', 'flag'].map((x) => el('option', { value: x, selected: seg.kind === x }, x)));
      kind.addEventListener('change', () => { seg.kind = kind.value; drawList(); });
      const segTitle = el('input', { value: seg.title || '', name: 'rule-title' });
      segTitle.addEventListener('input', () => { seg.title = segTitle.value || undefined; });
      editor.append(el('div', { class: 'row2', style: 'display:grid;grid-template-columns:1fr 1fr;gap:8px' }, el('div', {}, el('label', {}, t('kind')), kind), el('div', {}, el('label', {}, t('label')), segTitle)));
    }
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
        result.textContent = e ? `${e.line ? `line ${e.line}${e.column ? `, column ${e.column}` : ''}: ` : ''}${e.message}` : err.message;
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
      status.textContent = [err.message, ...(err.errors || []).map((e) => `${e.pointer}${e.line ? ` (line ${e.line})` : ''}: ${e.message}`)].join(' — ');
    }
  }

  drawList();
  const first = Object.keys(def.segments || {})[0];
  if (first) open('segments', first);
}
