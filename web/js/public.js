// The page a public form link opens (外链表单): no account, phone first.
// The token is the last part of the address; the API says which fields the
// link fills, and refuses anything else.
import { el } from './dom.js';

const token = decodeURIComponent(location.pathname.split('/').pop() || '');
const root = document.getElementById('public');
const api = `/api/v1/public/${encodeURIComponent(token)}`;

/** An input for one field, from its JSON Schema. */
function input(f) {
  const s = f.schema || {};
  const attrs = { id: `f-${f.key}`, name: f.key, required: f.required };
  if (s.enum) {
    return el('select', attrs, el('option', { value: '' }, '请选择'), s.enum.map((v) => el('option', { value: v, selected: f.value === v }, String(v))));
  }
  if (s.type === 'boolean') return el('input', { ...attrs, type: 'checkbox', checked: f.value === true, required: false });
  if (s.type === 'number' || s.type === 'integer') return el('input', { ...attrs, type: 'number', inputmode: 'decimal', step: s.type === 'integer' ? '1' : 'any', value: f.value ?? '' });
  if (s.maxLength > 200 || s['x-widget'] === 'textarea') return el('textarea', { ...attrs, rows: 4 }, f.value ?? '');
  const type = { phone: 'tel', email: 'email', date: 'date', 'date-time': 'datetime-local' }[s.format] || 'text';
  return el('input', { ...attrs, type, value: f.value ?? '', autocomplete: { phone: 'tel', email: 'email' }[s.format] || 'on', inputmode: s.format === 'phone' ? 'tel' : undefined, maxlength: s.maxLength });
}

/** The value of one field's input, typed as its schema says; `undefined` when left empty. */
function valueOf(f, form, mode) {
  const e = form.elements[f.key];
  const s = f.schema || {};
  if (s.type === 'boolean') return e.checked;
  const raw = e.value.trim();
  if (raw === '') return mode === 'update' ? null : undefined;
  if (s.type === 'number' || s.type === 'integer') return Number(raw);
  if (s.format === 'date-time') return new Date(raw).toISOString();
  return raw;
}

function message(text, kind) {
  return el('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

async function load() {
  const res = await fetch(api, { headers: { 'accept-language': 'zh-CN' } });
  const body = await res.json().catch(() => ({}));
  root.replaceChildren();
  if (!res.ok) {
    root.append(el('h1', {}, res.status === 410 ? '链接已失效' : '链接无效'), message(body.detail || `HTTP ${res.status}`, 'error'));
    return;
  }
  document.title = body.title;
  const status = el('div', { class: 'status' });
  const form = el('form', { class: 'card public-form', novalidate: true },
    body.fields.map((f) => el('div', { class: 'field', 'data-field': f.key },
      el('label', { for: `f-${f.key}`, class: f.required ? 'req' : '' }, f.title),
      input(f),
      f.schema?.description ? el('div', { class: 'field-help' }, f.schema.description) : null,
      el('div', { class: 'field-error', id: `e-${f.key}` }))),
    status,
    el('button', { class: 'primary', type: 'submit' }, body.mode === 'update' ? '保存修改' : '提交'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const data = {};
    for (const f of body.fields) {
      const v = valueOf(f, form, body.mode);
      if (v !== undefined) data[f.key] = v;
    }
    for (const x of form.querySelectorAll('.field')) { x.classList.remove('has-error'); x.querySelector('.field-error').textContent = ''; }
    status.replaceChildren();
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      // The page is Chinese: so are the server's messages on it.
      const r = await fetch(api, { method: 'POST', headers: { 'content-type': 'application/json', 'accept-language': 'zh-CN' }, body: JSON.stringify(data) });
      const out = await r.json().catch(() => ({}));
      if (r.ok) {
        if (body.mode === 'update') status.append(message('已保存，谢谢！', 'ok'));
        else root.replaceChildren(el('h1', {}, body.title), message('提交成功，谢谢！', 'ok'));
        return;
      }
      let placed = 0;
      for (const e of out.errors || []) {
        const key = (e.pointer || '').split('/')[1];
        const box = key && form.querySelector(`[data-field="${CSS.escape(key)}"]`);
        if (box) { box.classList.add('has-error'); box.querySelector('.field-error').textContent = e.message; placed += 1; }
      }
      // Errors shown at their fields need no second copy below; anything else is said here.
      const text = r.status === 429 ? `提交太频繁，请 ${r.headers.get('retry-after') || 60} 秒后再试`
        : placed && placed === (out.errors || []).length ? '请修改标红的内容后再提交' : out.detail || `HTTP ${r.status}`;
      status.append(message(text, 'error'));
      form.querySelector('.has-error input, .has-error select, .has-error textarea')?.focus();
    } finally {
      button.disabled = false;
    }
  });
  root.append(el('h1', {}, body.title), ...(body.expires_at ? [el('p', { class: 'muted' }, `有效期至 ${new Date(body.expires_at).toLocaleString('zh-CN')}`)] : []), form);
}

load().catch((e) => root.replaceChildren(message(String(e), 'error')));
