// When a trigger fires, said as a sentence with blanks to pick: 在「合同到期日」
// 之前 30 天的 09:00（北京时间），遇节假日提前到上一个工作日. It edits the
// trigger's `when` object in place; keys nobody touches stay as they were.
import { t } from './i18n.js';
import { el, kindOf } from './dom.js';

export const FESTIVALS = [['spring_festival', '春节'], ['new_years_eve', '除夕'], ['lantern', '元宵节'], ['dragon_boat', '端午节'], ['qixi', '七夕'], ['mid_autumn', '中秋节'], ['double_ninth', '重阳节'], ['new_year', '元旦'], ['womens_day', '妇女节'], ['labour_day', '劳动节'], ['childrens_day', '儿童节'], ['teachers_day', '教师节'], ['national_day', '国庆节']];
const ZONES = ['Asia/Shanghai', 'Asia/Hong_Kong', 'Asia/Taipei', 'Asia/Singapore', 'Asia/Tokyo', 'Asia/Seoul', 'Asia/Dubai', 'Europe/London', 'Europe/Berlin', 'America/New_York', 'America/Los_Angeles', 'Australia/Sydney', 'UTC'];
const WEEKDAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'];
export const WHEN_KINDS = ['event', 'date', 'anniversary', 'inactive', 'festival', 'cron'];

export const whenKind = (w = {}) => WHEN_KINDS.find((k) => k in w) || 'event';

const pickSel = (name, options, value, onChange, label) => {
  const s = el('select', { name, 'aria-label': label, 'data-pointer': `/when/${name.replace(/^when-/, '').split('-')[0]}` }, options.map(([v, l]) => el('option', { value: v, selected: v === (value ?? '') }, l)));
  if (value !== undefined && value !== '' && !options.some(([v]) => v === value)) s.append(el('option', { value, selected: true }, String(value)));
  s.addEventListener('change', () => onChange(s.value));
  return s;
};
const words = (s) => el('span', { class: 'mw' }, s);

/** A cron pattern as a picked schedule: {every: 'day'|'workday'|'week'|'month', day, at}, or null. */
export function readCron(p) {
  const m = /^(\d{1,2}) (\d{1,2}) (\S+) \* (\S+)$/.exec((p || '').trim());
  if (!m) return null;
  const at = `${m[2].padStart(2, '0')}:${m[1].padStart(2, '0')}`;
  if (m[3] === '*' && m[4] === '*') return { every: 'day', at };
  if (m[3] === '*' && m[4] === 'MON-FRI') return { every: 'workday', at };
  if (m[3] === '*' && WEEKDAYS.includes(m[4])) return { every: 'week', day: m[4], at };
  if (/^\d{1,2}$/.test(m[3]) && m[4] === '*') return { every: 'month', day: Number(m[3]), at };
  return null;
}

export function writeCron(c) {
  const [h, mi] = (c.at || '09:00').split(':').map(Number);
  const dom = c.every === 'month' ? String(c.day || 1) : '*';
  const dow = c.every === 'workday' ? 'MON-FRI' : c.every === 'week' ? c.day || 'MON' : '*';
  return `${mi} ${h} ${dom} * ${dow}`;
}

/**
 * The `when` of a trigger as a sentence. `form` is the trigger's form
 * definition (its date, text and segment fields are offered), `onKind` is
 * told when the kind changes (the action list offers digests to cron only).
 */
export function whenInput(def, form, { onKind = () => {} } = {}) {
  const box = el('div', { class: 'moment', 'data-pointer': '/when' });
  const props = Object.entries(form?.schema?.properties || {});
  const widgets = form?.ui?.widgets || {};
  const titled = (k) => form?.schema?.properties?.[k]?.title || widgets[k]?.title || k;
  const dates = [...props.filter(([k, s]) => ['date', 'datetime'].includes(kindOf(s, widgets[k]))).map(([k]) => k),
    ...Object.entries(form?.rollups || {}).filter(([, r]) => ['max', 'min', 'latest'].includes(r.op)).map(([k]) => k)];
  const texts = props.filter(([k, s]) => kindOf(s, widgets[k]) === 'text').map(([k]) => k);
  const fieldsOf = (ks) => ks.map((k) => [k, titled(k)]);
  const draw = () => {
    const w = def.when;
    const kind = whenKind(w);
    const set = (k, v) => { if (v === undefined || v === '') delete w[k]; else w[k] = v; };
    const timeInput = (k = 'at', optional = false) => {
      const i = el('input', { type: 'time', name: `when-${k}`, value: w[k] || (optional ? '' : '09:00'), 'aria-label': t('w_at'), 'data-pointer': `/when/${k}` });
      i.addEventListener('input', () => set(k, i.value || undefined));
      return i;
    };
    const offsetInputs = (unitWord) => {
      const m = /^(-?)(\d+)d$/.exec(w.offset || '');
      let dir = !m || m[2] === '0' ? 'on' : m[1] ? 'before' : 'after';
      let n = m ? m[2] : '';
      const days = el('input', { type: 'number', min: 1, step: 1, name: 'when-offset-days', value: dir === 'on' ? '' : n, class: 'cb-num', 'aria-label': t('days'), 'data-pointer': '/when/offset' });
      const emit = () => set('offset', dir === 'on' || !n ? undefined : `${dir === 'before' ? '-' : ''}${n}d`);
      const dirSel = pickSel('when-offset-dir', [['on', t('m_on')], ['before', t('m_before')], ['after', t('m_after')]], dir, (v) => { dir = v; days.hidden = v === 'on'; unit.hidden = v === 'on'; if (v !== 'on' && !n) { n = '1'; days.value = n; } emit(); }, t('w_offset'));
      days.addEventListener('input', () => { n = days.value; emit(); });
      const unit = words(unitWord || t('days'));
      days.hidden = dir === 'on'; unit.hidden = dir === 'on';
      return [dirSel, days, unit];
    };
    const zone = (withField = true) => {
      const tz = pickSel('when-tz', [['', t('m_defaultTz')], ...ZONES.map((z) => [z, t(`tz_${z.replace('/', '_')}`) === `tz_${z.replace('/', '_')}` ? z : `${t(`tz_${z.replace('/', '_')}`)}（${z}）`])], w.tz || '', (v) => set('tz', v || undefined), t('w_tz'));
      const parts = [words('（'), tz];
      if (withField && texts.length) parts.push(words(t('m_tzField')), pickSel('when-tz_field', [['', t('m_noTzField')], ...fieldsOf(texts)], w.tz_field || '', (v) => set('tz_field', v || undefined), t('w_tz_field')));
      parts.push(words('）'));
      return parts;
    };
    const dayOff = () => [words(t('m_dayOff')), pickSel('when-on_day_off', [['', t('m_keep')], ['previous_working_day', t('m_previous')], ['next_working_day', t('m_next')], ['skip', t('m_skip')]], w.on_day_off || '', (v) => set('on_day_off', v || undefined), t('m_dayOff'))];
    let sentence;
    switch (kind) {
      case 'date':
        sentence = [words(t('m_at')), pickSel('when-date', [['', t('pickField')], ...fieldsOf(dates)], w.date, (v) => set('date', v), t('w_date')), ...offsetInputs(), words(t('m_of')), timeInput(), ...zone(), words('，'), ...dayOff()];
        break;
      case 'anniversary':
        sentence = [words(t('m_everyYear')), pickSel('when-anniversary', [['', t('pickField')], ...fieldsOf(dates)], w.anniversary, (v) => set('anniversary', v), t('w_anniversary')),
          words(t('m_thatDay')), pickSel('when-calendar', [['', t('m_solar')], ['lunar', t('m_lunar')]], w.calendar === 'solar' ? '' : w.calendar || '', (v) => set('calendar', v || undefined), t('m_calendar')),
          ...offsetInputs(), words(t('m_of')), timeInput(), ...zone(), words('，'), ...dayOff()];
        break;
      case 'festival':
        sentence = [words(t('m_everyYear')), pickSel('when-festival', FESTIVALS.map(([x, zh]) => [x, zh]), w.festival, (v) => set('festival', v), t('w_festival')), ...offsetInputs(), words(t('m_of')), timeInput(), ...zone(), words('，'), ...dayOff()];
        break;
      case 'inactive': {
        const m = /^(\d+)([dh])$/.exec(w.for || '');
        let n = m ? m[1] : '', u = m ? m[2] : 'd';
        const num = el('input', { type: 'number', min: 1, step: 1, name: 'when-for', value: n, class: 'cb-num', 'aria-label': t('w_for'), 'data-pointer': '/when/for' });
        const emit = () => set('for', n ? `${n}${u}` : undefined);
        num.addEventListener('input', () => { n = num.value; emit(); });
        sentence = [pickSel('when-inactive', [['', t('pickField')], ...fieldsOf(dates)], w.inactive, (v) => set('inactive', v), t('w_inactive')), words(t('m_over')), num,
          pickSel('when-for-unit', [['d', t('unit_d')], ['h', t('unit_h')]], u, (v) => { u = v; emit(); }, t('unit')), words(t('m_noUpdate')), timeInput('at', true), ...zone(), words('，'), ...dayOff()];
        break;
      }
      case 'cron': {
        const c = readCron(w.cron);
        if (!c) {
          const i = el('input', { name: 'when-cron', value: w.cron || '', 'data-pointer': '/when/cron', 'aria-label': t('w_cron') });
          i.addEventListener('input', () => set('cron', i.value));
          sentence = [el('div', { class: 'notice cb-notice', 'data-hand-written': '' }, t('cronHandWritten')), words(t('w_cron')), i, ...zone(false), words('，'), ...dayOff()];
          break;
        }
        const emit = () => set('cron', writeCron(c));
        const every = pickSel('when-every', [['day', t('m_everyDay')], ['workday', t('m_everyWorkday')], ['week', t('m_everyWeek')], ['month', t('m_everyMonth')]], c.every, (v) => { c.every = v; c.day = v === 'week' ? 'MON' : v === 'month' ? 1 : undefined; emit(); draw(); }, t('m_every'));
        let day = null;
        if (c.every === 'week') day = pickSel('when-weekday', WEEKDAYS.map((d) => [d, t(`wd_${d}`)]), c.day, (v) => { c.day = v; emit(); }, t('m_weekday'));
        if (c.every === 'month') {
          day = el('input', { type: 'number', min: 1, max: 28, name: 'when-monthday', value: c.day, class: 'cb-num', 'aria-label': t('m_monthday') });
          day.addEventListener('input', () => { c.day = Number(day.value) || 1; emit(); });
        }
        const at = el('input', { type: 'time', name: 'when-at', value: c.at, 'aria-label': t('w_at'), 'data-pointer': '/when/cron' });
        at.addEventListener('input', () => { c.at = at.value || '09:00'; emit(); });
        sentence = [every, day, c.every === 'month' ? words(t('m_dayUnit')) : null, words(t('m_of')), at, ...zone(false), words('，'), ...dayOff()];
        break;
      }
      default: {
        const ev = pickSel('when-event', ['created', 'updated', 'deleted', 'changed', 'segment_changed'].map((e) => [e, t(`ev_${e}`)]), w.event || 'created', (v) => {
          for (const k of ['field', 'segment', 'from', 'to']) delete w[k];
          w.event = v; draw();
        }, t('w_event'));
        sentence = [words(t('m_whenRecord')), ev];
        if (w.event === 'changed') sentence.push(words(t('m_field')), pickSel('when-field', [['', t('pickField')], ...fieldsOf(props.map(([k]) => k))], w.field, (v) => set('field', v), t('w_field')));
        if (w.event === 'segment_changed') {
          const segs = Object.entries(form?.segments || {});
          const seg = form?.segments?.[w.segment];
          const values = seg?.values ? Object.entries(seg.values) : [];
          const valueSel = (k, label) => values.length
            ? pickSel(`when-${k}`, [['', t('m_anyValue')], ...values], w[k] ?? '', (v) => set(k, v || undefined), label)
            : (() => { const i = el('input', { name: `when-${k}`, value: w[k] ?? '', class: 'cb-label', 'aria-label': label, placeholder: t('m_anyValue') }); i.addEventListener('input', () => set(k, i.value || undefined)); return i; })();
          sentence.push(words(t('m_segment')), pickSel('when-segment', [['', t('pickField')], ...segs.map(([k, s]) => [k, s.title || k])], w.segment, (v) => { set('segment', v); delete w.from; delete w.to; draw(); }, t('w_segment')),
            words(t('m_from')), valueSel('from', t('m_from')), words(t('m_to')), valueSel('to', t('w_to')));
        }
      }
    }
    box.replaceChildren(el('div', { class: 'moment-sentence' }, ...sentence.filter(Boolean)));
  };
  const kindSel = pickSel('when-kind', WHEN_KINDS.map((k) => [k, t(`wk_${k}`)]), whenKind(def.when), (k) => {
    const defaults = { event: { event: 'created' }, date: { date: dates[0] || '', offset: '-30d', at: '09:00' }, anniversary: { anniversary: dates[0] || '', at: '09:00' }, inactive: { inactive: dates[0] || '', for: '30d', at: '09:00' }, festival: { festival: 'spring_festival', at: '09:00' }, cron: { cron: '0 9 * * MON' } };
    def.when = defaults[k];
    draw(); onKind(k);
  }, t('whenKind'));
  draw();
  return { kindSel, box, redraw: draw };
}
