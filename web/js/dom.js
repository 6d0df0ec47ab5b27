// Small DOM helpers every view uses.
import { t } from './i18n.js';

/** An element: attributes (`onclick` etc. become listeners; `true` is a bare attribute), then children (arrays flattened). */
export const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v === true) e.setAttribute(k, '');
    else if (v !== false && v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined) e.append(kid);
  return e;
};

/** An SVG element. */
export const svg = (tag, attrs = {}, ...kids) => {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const kid of kids) e.append(kid);
  return e;
};

/** A stored value as text: lists joined, objects as JSON, nothing as empty. */
export const show = (v) => (v === undefined || v === null ? '' : Array.isArray(v) ? v.join('、') : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** Which field kind (the designer's palette) a stored property is, from its widget or its schema. */
export function kindOf(s, widget) {
  if (widget?.kind) return widget.kind;
  if (widget?.widget === 'textarea') return 'textarea';
  if (s['x-link']) return 'link';
  if (s.type === 'array') return s.items?.type === 'object' ? 'subtable' : 'multiselect';
  if (s.type === 'boolean') return 'checkbox';
  if (['money', 'rating', 'nps'].includes(s.format)) return s.format;
  if (s.type === 'number' || s.type === 'integer') return 'number';
  if (s.enum) return 'select';
  return { date: 'date', 'date-time': 'datetime', user: 'user', phone: 'phone', email: 'email' }[s.format] || 'text';
}

/** Asks before something that cannot simply be taken back; resolves true on 确定. */
export function confirmAction(message, { ok = t('ok'), cancel = t('cancel'), danger = true } = {}) {
  return new Promise((resolve) => {
    const d = el('dialog', { class: 'confirm', role: 'alertdialog', 'aria-label': message },
      el('form', { method: 'dialog' }, el('p', {}, message),
        el('div', { class: 'actions', style: 'justify-content:flex-end' },
          el('button', { value: 'cancel', type: 'submit' }, cancel),
          el('button', { value: 'ok', type: 'submit', class: danger ? 'danger' : 'primary', id: 'confirm-ok' }, ok))));
    d.addEventListener('close', () => { d.remove(); resolve(d.returnValue === 'ok'); });
    document.body.append(d);
    d.showModal();
  });
}

/** Takes away a toast still on screen (an error must not stand beside an earlier 已保存). */
export const clearToast = () => document.querySelector('.toast')?.remove();

/** A short message at the bottom of the screen, with an optional action (撤销) for a few seconds. */
export function toast(text, { action, label, ms = 8000 } = {}) {
  document.querySelector('.toast')?.remove();
  const box = el('div', { class: 'toast', role: 'status' }, el('span', {}, text));
  if (action) box.append(el('button', { class: 'small', id: 'toast-action', onclick: async () => { box.remove(); await action(); } }, label));
  document.body.append(box);
  setTimeout(() => box.remove(), ms);
  return box;
}

/** A placeholder while a page waits for the network. */
export const loading = () => el('div', { class: 'loading', role: 'status', 'aria-live': 'polite' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), ` ${t('loading')}`);

/** One problem of a 422 as a person reads it: 第 2 行第 5 列：… (the line only where a script or template is meant). */
export const problemText = (e) => `${e.line ? t(e.column ? 'atLineCol' : 'atLine', { n: e.line, c: e.column }) : ''}${e.message}`;

/**
 * Shows a 422's problems in `box`: each at the input whose `data-pointer` is
 * the longest prefix of its pointer (marked, with the message below it), the
 * rest — with the problem's own message — in `status`.
 */
export function showProblems(box, status, err) {
  box.querySelectorAll('.inline-error').forEach((x) => x.remove());
  box.querySelectorAll('[data-pointer]').forEach((x) => x.classList.remove('bad-input'));
  const inputs = [...box.querySelectorAll('[data-pointer]')];
  const unplaced = [];
  for (const e of err.errors || []) {
    const best = inputs.filter((i) => e.pointer === i.dataset.pointer || e.pointer.startsWith(`${i.dataset.pointer}/`)).sort((a, b) => b.dataset.pointer.length - a.dataset.pointer.length)[0];
    if (best) {
      best.classList.add('bad-input');
      best.insertAdjacentElement('afterend', el('div', { class: 'field-error inline-error' }, problemText(e)));
    } else unplaced.push(problemText(e));
  }
  status.className = 'notice error';
  status.textContent = [err.message, ...unplaced].join(' — ');
}
