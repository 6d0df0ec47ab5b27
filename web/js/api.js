// The JSON API client. The browser is signed in by an HttpOnly session
// cookie (POST /api/v1/auth/session), which no script here can read; fetch
// sends it, and the browser's Sec-Fetch-Site header shows it is our page.

import { lang } from './i18n.js';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
  /** The field errors of a problem, by JSON pointer. */
  get errors() { return this.problem.errors || []; }
}

export async function api(method, path, body, { headers = {}, raw = false } = {}) {
  // The server writes its messages for people in the language the user chose.
  const h = { 'accept-language': lang === 'en' ? 'en' : 'zh-CN', ...headers };
  let payload = body;
  if (body !== undefined && !(body instanceof Blob) && !(body instanceof ArrayBuffer)) {
    h['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(path, { method, headers: h, body: payload, credentials: 'same-origin' });
  if (raw && res.ok) return res;
  const text = await res.text();
  const data = text ? (() => { try { return JSON.parse(text); } catch { return { detail: text }; } })() : null;
  if (!res.ok) {
    if (res.status === 401 && path !== '/api/v1/auth/session') location.hash = '#/login';
    throw new ApiError(res.status, data);
  }
  return data;
}

export const get = (p) => api('GET', p);
export const post = (p, b) => api('POST', p, b);
export const put = (p, b, o) => api('PUT', p, b, o);
