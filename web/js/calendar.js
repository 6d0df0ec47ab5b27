// The calendar (日历): a month or a week, with your tasks on their due
// dates, the reminders triggers will send (birthdays, contract ends) for the
// records you may read, and the records of a date field on their days (the
// next follow-up). `#/calendar` is yours across forms; `#/forms/F/calendar`
// starts on that form's first date field.
import { t, lang } from './i18n.js';
import { get } from './api.js';
import { el } from './dom.js';
import { asText, plain, recordTitle } from './format.js';

const pad = (n) => String(n).padStart(2, '0');
const dayKey = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
const addDays = (d, n) => { const x = new Date(d); x.setDate(x.getDate() + n); return x; };
const monday = (d) => addDays(d, -((d.getDay() + 6) % 7));

/** The days a view shows: a month as whole weeks (Monday first), or one week. */
export function daysOf(mode, anchor) {
  if (mode === 'week') { const m = monday(anchor); return Array.from({ length: 7 }, (_, i) => addDays(m, i)); }
  const first = new Date(anchor.getFullYear(), anchor.getMonth(), 1);
  const start = monday(first);
  const last = new Date(anchor.getFullYear(), anchor.getMonth() + 1, 0);
  const n = Math.ceil(((last - start) / 86400000 + 1) / 7) * 7;
  return Array.from({ length: n }, (_, i) => addDays(start, i));
}

export async function calendarView(main, formKey, params) {
  const forms = (await get('/api/v1/forms')).items;
  // Every date and date-time field of every form, as a source: "跟进记录 · 下次跟进日期".
  const sources = forms.flatMap((f) => Object.entries(f.definition.schema?.properties || {}).filter(([, p]) => p.format === 'date' || p.format === 'date-time')
    .map(([k, p]) => ({ id: `${f.key}.${k}`, form: f, field: k, kind: p.format, label: `${f.title || f.key} · ${p.title || k}` })));
  const picked = params.get('src') ?? (formKey ? sources.find((s) => s.form.key === formKey)?.id || '' : '');
  const mode = params.get('mode') === 'week' ? 'week' : 'month';
  const anchor = params.get('d') ? new Date(`${params.get('d')}T00:00:00`) : new Date();
  const days = daysOf(mode, anchor);
  const from = days[0];
  const to = addDays(days[days.length - 1], 1);
  const items = new Map(days.map((d) => [dayKey(d), []]));
  const put = (when, item) => { const k = /^\d{4}-\d{2}-\d{2}$/.test(when) ? when : dayKey(new Date(when)); items.get(k)?.push(item); };

  const src = sources.find((s) => s.id === picked);
  const [tasks, records, moments] = await Promise.all([
    get(`/api/v1/tasks?status=any&limit=500&due_after=${encodeURIComponent(from.toISOString())}&due_before=${encodeURIComponent(to.toISOString())}`).catch(() => ({ items: [] })),
    src ? get(`/api/v1/forms/${src.form.key}/records?limit=1000&filter=${encodeURIComponent(JSON.stringify({ [src.field]: { _between: src.kind === 'date' ? [dayKey(from), dayKey(addDays(to, -1))] : [from.toISOString(), new Date(to - 1).toISOString()] } }))}`).catch(() => ({ items: [] })) : { items: [] },
    // The reminders the triggers will send (birthdays, contract ends, inactivity…), for records you may read.
    get(`/api/v1/reminders?from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`).catch(() => ({ items: [] })),
  ]);
  for (const m of moments.items) put(m.at, { kind: 'reminder', text: m.title || m.trigger, href: `#/forms/${m.form}/records/${m.record_id}`, id: `${m.trigger}/${m.record_id}`, form: m.form, record: m.record_id });
  for (const x of tasks.items) if (x.due_at) put(x.due_at, { kind: 'task', done: x.status !== 'open', text: x.title, href: x.record_id ? `#/forms/${x.record_form}/records/${x.record_id}` : '#/tasks', id: x.id });
  for (const r of records.items) {
    const d = src.form.definition;
    const title = asText(plain(r.data[d.title_field] ?? r.data.name ?? d.title));
    put(r.data[src.field], { kind: 'record', text: src.kind === 'date-time' ? `${new Date(r.data[src.field]).toLocaleTimeString(lang === 'en' ? 'en' : 'zh-CN', { hour: '2-digit', minute: '2-digit' })} ${title}` : title, href: `#/forms/${src.form.key}/records/${r.id}`, id: r.id });
  }

  const go = (over) => {
    const q = new URLSearchParams({ mode, d: dayKey(anchor), src: picked, ...over });
    location.hash = `${formKey ? `#/forms/${formKey}/calendar` : '#/calendar'}?${q}`;
  };
  const step = (n) => go({ d: dayKey(mode === 'week' ? addDays(anchor, 7 * n) : new Date(anchor.getFullYear(), anchor.getMonth() + n, 1)) });
  const pick = el('select', { id: 'cal-source', 'aria-label': t('calendarSource') }, el('option', { value: '' }, t('tasksOnly')), sources.map((s) => el('option', { value: s.id, selected: s.id === picked }, s.label)));
  pick.addEventListener('change', () => go({ src: pick.value }));
  const locale = lang === 'en' ? 'en' : 'zh-CN';
  const heading = mode === 'week' ? `${from.toLocaleDateString(locale, { month: 'short', day: 'numeric' })} – ${addDays(to, -1).toLocaleDateString(locale, { month: 'short', day: 'numeric' })}` : anchor.toLocaleDateString(locale, { year: 'numeric', month: 'long' });
  const today = dayKey(new Date());
  const names = Array.from({ length: 7 }, (_, i) => addDays(monday(new Date(2026, 0, 5)), i).toLocaleDateString(locale, { weekday: 'short' }));

  main.innerHTML = '';
  main.append(el('div', { class: 'head' }, el('div', {}, el('h1', {}, `${t('calendarView')} · ${heading}`), el('div', { class: 'muted' }, t('calendarHelp'))),
    el('div', { class: 'actions' }, pick,
      el('button', { onclick: () => step(-1), 'aria-label': t('previous'), id: 'cal-prev' }, '‹'), el('button', { onclick: () => go({ d: dayKey(new Date()) }), id: 'cal-today' }, t('tw_today')), el('button', { onclick: () => step(1), 'aria-label': t('next'), id: 'cal-next' }, '›'),
      el('div', { class: 'views', role: 'group' }, el('button', { class: mode === 'month' ? 'primary' : '', onclick: () => go({ mode: 'month' }), id: 'cal-month' }, t('month')), el('button', { class: mode === 'week' ? 'primary' : '', onclick: () => go({ mode: 'week' }), id: 'cal-week' }, t('week'))))),
  el('div', { class: `calendar ${mode}`, id: 'calendar', 'aria-label': heading },
    names.map((n) => el('div', { class: 'dow', 'aria-hidden': 'true' }, n)),
    days.map((d) => {
      const k = dayKey(d);
      const list = items.get(k);
      return el('div', { class: `day${d.getMonth() !== anchor.getMonth() && mode === 'month' ? ' other' : ''}${k === today ? ' today' : ''}`, 'data-day': k, role: 'group', 'aria-label': d.toLocaleDateString(locale, { month: 'long', day: 'numeric', weekday: 'long' }) },
        el('div', { class: 'num' }, String(d.getDate())),
        // A busy day shows its first four and how many more (its week shows them all).
        (mode === 'month' && list.length > 5 ? list.slice(0, 4) : list).map((x) => {
          const chip = el('a', { class: `chip ${x.kind}${x.done ? ' done' : ''}`, href: x.href, title: x.text, 'data-item': x.id }, x.text);
          // A reminder says whose: its record's title, once known.
          if (x.kind === 'reminder') recordTitle(x.form, x.record).then((r) => { chip.textContent = `${x.text}：${r}`; chip.title = chip.textContent; });
          return chip;
        }),
        mode === 'month' && list.length > 5 ? el('a', { class: 'more', href: '#', onclick: (e) => { e.preventDefault(); go({ mode: 'week', d: k }); } }, t('nMore', { n: list.length - 4 })) : null);
    })));
}
