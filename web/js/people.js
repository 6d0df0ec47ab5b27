// The user directory (`GET /api/v1/users`), read once per page load: every
// view shows a person by name, with the email on hover, whether a record
// holds their id or their email.
import { get } from './api.js';
import { el } from './dom.js';
import { t } from './i18n.js';

let byKey = new Map();
let list = [];
let roles = new Map();
let loading = null;

/** Loads the directory (again when `fresh`); a failure leaves it empty and pages show emails. */
export function loadPeople(fresh = false) {
  if (!loading || fresh) {
    loading = Promise.all([get('/api/v1/users'), get('/api/v1/roles').catch(() => ({ items: [] }))]).then(([r, rs]) => {
      list = r.items;
      byKey = new Map();
      for (const u of list) { byKey.set(u.id, u); byKey.set(u.email.toLowerCase(), u); }
      roles = new Map(rs.items.map((x) => [x.key, x.definition?.title]));
    }).catch(() => { list = []; byKey = new Map(); });
  }
  return loading;
}

/** A role by the title the roles definition gives it (销售主管), else its name in the UI's language. */
export function roleTitle(k, fallback) {
  // The built-in roles have names of their own where no roles definition titles them (a fresh Trellis).
  const builtIn = t(`role_${k}`);
  return roles.get(k) || fallback || (builtIn === `role_${k}` ? k : builtIn);
}

/** Everyone in the directory, by name. */
export const people = () => [...list].sort((a, b) => nameOf(a.email).localeCompare(nameOf(b.email), 'zh-CN'));

/** The user a stored value (id or email) names, if known. */
export const userOf = (v) => (typeof v === 'string' ? byKey.get(v) || byKey.get(v.toLowerCase()) : undefined);

/** A person's name (their email when they have none; the value itself when unknown). */
export function nameOf(v) {
  if (v === undefined || v === null || v === '') return '';
  if (v === 'system') return t('systemActor');
  const u = userOf(v);
  return u ? u.name || u.email : String(v);
}

/** A person as a page shows them: the name, the email on hover. */
export function personEl(v) {
  const u = userOf(v);
  return el('span', { class: 'person', title: u ? u.email : undefined, 'data-user': u ? u.email : undefined }, nameOf(v));
}
