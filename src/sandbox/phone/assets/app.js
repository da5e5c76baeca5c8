// The simulated phone: pick a demo tenant and cardholder, chat with the tenant's Official Account through the sandbox, open its H5 pages in the phone, read template messages in the tray.
'use strict';

/** Every sandbox endpoint the page calls ({name} is filled in); the page test checks each exists. */
const API = {
  demo: '/sandbox/api/demo',
  users: '/sandbox/api/users',
  oaMessages: '/sandbox/api/users/{openid}/oa-messages',
  oaMenu: '/sandbox/api/tenants/{tenantId}/oa-menu',
  customMessages: '/sandbox/api/custom-messages',
  templateMessages: '/sandbox/api/template-messages',
};
/** The sandbox's OA web-authorisation page: inside the phone WeChat signs the user in silently (snsapi_base). */
const AUTHORIZE_PATH = '/sandbox/open/connect/oauth2/authorize';
/** Pages the phone opens in its web view: this server's, by path (menu VIEW links are paths in the sandbox). */
const LOCAL_PATH = /^\/(?!\/)\S{0,500}$/;
/** How often the page looks for customer-service messages (late answers). */
const POLL_MS = 2000;
const STORAGE_PREFIX = 'wecard.sandbox.oaUser:';

const $ = (id) => document.getElementById(id);
const state = { demo: null, session: null, pollTimer: null, seen: new Set(), firstPoll: true, busy: false, templates: new Set() };

function path(template, params) {
  return template.replace(/\{(\w+)\}/g, (_m, k) => encodeURIComponent(params[k]));
}

async function call(method, url, body) {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = new Error((data && (data.detail || data.title)) || `HTTP ${res.status}`);
    err.status = res.status;
    throw err;
  }
  return data;
}

function setStatus(text) {
  $('setup-status').textContent = text;
}

function addMessage(kind, text, label) {
  const li = document.createElement('div');
  li.className = `msg ${kind}`;
  if (label) {
    const l = document.createElement('span');
    l.className = 'label';
    l.textContent = label;
    li.appendChild(l);
  }
  li.appendChild(document.createTextNode(text));
  $('messages').appendChild(li);
  li.scrollIntoView({ block: 'end' });
}

function fillTenants() {
  const select = $('tenant');
  select.textContent = '';
  for (const t of state.demo.tenants) {
    const o = document.createElement('option');
    o.value = t.id;
    o.textContent = t.name;
    select.appendChild(o);
  }
  fillCardholders();
}

function fillCardholders() {
  const tenantId = $('tenant').value;
  const select = $('cardholder');
  select.textContent = '';
  const anon = document.createElement('option');
  anon.value = '';
  anon.textContent = '（新用户，不对应持卡人）';
  select.appendChild(anon);
  state.demo.cardholders.forEach((c, i) => {
    if (c.tenantId !== tenantId) return;
    const o = document.createElement('option');
    o.value = String(i);
    o.textContent = c.name;
    select.appendChild(o);
  });
  if (select.options.length > 1) select.selectedIndex = 1;
}

/**
 * The sandbox user standing for this tenant and cardholder, created once and remembered in this
 * browser. A cardholder's user carries their phone, as their WeChat account would.
 */
async function sandboxUser(tenantId, cardholderKey, fresh) {
  const key = `${STORAGE_PREFIX}${tenantId}:${cardholderKey}`;
  const known = fresh ? null : localStorage.getItem(key);
  if (known) return known;
  const holder = cardholderKey === 'anon' ? null : state.demo.cardholders[Number(cardholderKey)];
  const user = await call('POST', API.users, holder && holder.phone ? { tenantId, phone: holder.phone } : { tenantId });
  localStorage.setItem(key, user.openid);
  return user.openid;
}

function renderMenu(menu) {
  const nav = $('menu');
  nav.textContent = '';
  menu.button.forEach((b, i) => {
    const item = document.createElement('div');
    item.className = 'menu-item';
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = b.name;
    item.appendChild(button);
    if (b.sub_button && b.sub_button.length > 0) {
      const list = document.createElement('ul');
      list.className = 'submenu';
      list.id = `submenu-${i}`;
      list.hidden = true;
      button.setAttribute('aria-expanded', 'false');
      button.setAttribute('aria-controls', list.id);
      button.addEventListener('click', () => toggleSubmenu(button, list));
      for (const s of b.sub_button) {
        const li = document.createElement('li');
        const sb = document.createElement('button');
        sb.type = 'button';
        sb.textContent = s.name;
        sb.addEventListener('click', () => {
          toggleSubmenu(button, list, false);
          button.focus();
          menuAction(s);
        });
        li.appendChild(sb);
        list.appendChild(li);
      }
      item.appendChild(list);
    } else {
      button.addEventListener('click', () => menuAction(b));
    }
    nav.appendChild(item);
  });
}

function toggleSubmenu(button, list, open) {
  const show = open === undefined ? list.hidden : open;
  for (const other of document.querySelectorAll('.submenu')) {
    if (other !== list) other.hidden = true;
  }
  for (const b of document.querySelectorAll('.menu [aria-expanded]')) {
    if (b !== button) b.setAttribute('aria-expanded', 'false');
  }
  list.hidden = !show;
  button.setAttribute('aria-expanded', String(show));
  if (show) list.querySelector('button').focus();
}

/** A VIEW link of the menu as the phone opens it: H5 links name the tenant (as a real menu's URL would). */
function viewUrl(raw) {
  if (!LOCAL_PATH.test(raw)) return null;
  const url = new URL(raw, location.origin);
  if (url.pathname.startsWith('/h5/') && state.session && !url.searchParams.has('tenant')) url.searchParams.set('tenant', state.session.tenantId);
  return url.pathname + url.search;
}

function openWebview(url, title) {
  $('webview-title').textContent = title || '网页';
  $('webview').hidden = false;
  document.querySelector('.screen').classList.add('webview-open');
  $('webview-frame').src = url;
  $('webview-close').focus();
}

function closeWebview() {
  const wasOpen = !$('webview').hidden;
  $('webview').hidden = true;
  document.querySelector('.screen').classList.remove('webview-open');
  $('webview-frame').removeAttribute('src');
  if (wasOpen) $('text').focus();
}

/**
 * Inside WeChat an OA page's web authorisation (snsapi_base) needs no tap: when the frame lands on
 * the sandbox's chooser, the phone picks its own user, as WeChat would.
 */
function onFrameLoad() {
  const frame = $('webview-frame');
  let loc;
  try {
    loc = frame.contentWindow.location;
    if (loc.pathname !== AUTHORIZE_PATH && frame.contentDocument && frame.contentDocument.title) $('webview-title').textContent = frame.contentDocument.title;
  } catch {
    return; // another origin: nothing to do
  }
  if (!state.session || loc.pathname !== AUTHORIZE_PATH) return;
  const params = new URLSearchParams(loc.search);
  if (params.has('sandbox_openid')) return;
  params.set('sandbox_openid', state.session.openid);
  loc.replace(`${AUTHORIZE_PATH}?${params}`);
}

function menuAction(item) {
  if (item.type === 'view' && item.url) {
    const url = viewUrl(item.url);
    if (url) openWebview(url, item.name);
    else window.open(item.url, '_blank', 'noopener');
    return;
  }
  if (item.key) {
    addMessage('system', `点击了菜单「${item.name}」`);
    send({ menuKey: item.key });
  }
}

async function send(content, retried) {
  const s = state.session;
  if (!s) return;
  try {
    const r = await call('POST', path(API.oaMessages, { openid: s.openid }), { tenantId: s.tenantId, ...content });
    if (r.reply) addMessage('from-account', r.reply);
    else if (r.failure) addMessage('system', r.failure);
    // reply null, no failure: the server answered "success"; a late answer arrives as a customer-service message.
  } catch (err) {
    if (err.status === 404 && !retried) {
      // The sandbox forgot this user (a reset database): make a new one and try once more.
      s.openid = await sandboxUser(s.tenantId, s.cardholderKey, true);
      return send(content, true);
    }
    addMessage('system', `发送失败：${err.message}`);
  }
}

async function poll() {
  const s = state.session;
  if (!s || document.hidden) return;
  try {
    const list = await call('GET', `${API.customMessages}?openid=${encodeURIComponent(s.openid)}`);
    const items = Array.isArray(list) ? list.slice().reverse() : [];
    for (const m of items) {
      const id = `${m.sentAt}|${m.content}`;
      if (state.seen.has(id)) continue;
      state.seen.add(id);
      // Messages from before this visit are history, not news.
      if (!state.firstPoll && typeof m.content === 'string') addMessage('from-account', m.content, '客服消息');
    }
    state.firstPoll = false;
  } catch {
    // The next poll tries again.
  }
}

/** A template message as the tray shows it: the headline (`first`), the keywords, the remark. */
function templateText(m) {
  const data = m.data || {};
  const value = (k) => (data[k] && typeof data[k].value === 'string' ? data[k].value : '');
  const keys = Object.keys(data).filter((k) => k !== 'first' && k !== 'remark');
  return { title: value('first') || m.templateId, lines: keys.map(value).filter(Boolean), remark: value('remark') };
}

function addTemplate(m) {
  const li = document.createElement('li');
  li.className = 'tray-item';
  const t = templateText(m);
  const h = document.createElement('p');
  h.className = 'tray-item-title';
  h.textContent = t.title;
  li.appendChild(h);
  for (const line of t.lines.concat(t.remark ? [t.remark] : [])) {
    const p = document.createElement('p');
    p.textContent = line;
    li.appendChild(p);
  }
  const time = document.createElement('p');
  time.className = 'tray-item-time';
  time.textContent = new Date(m.sentAt).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false });
  li.appendChild(time);
  $('tray-list').prepend(li);
  $('tray-empty').hidden = true;
  $('tray-count').textContent = String($('tray-list').children.length);
}

async function pollTemplates() {
  const s = state.session;
  if (!s) return;
  try {
    const list = await call('GET', `${API.templateMessages}?openid=${encodeURIComponent(s.openid)}`);
    const items = Array.isArray(list) ? list.slice().reverse() : [];
    for (const m of items) {
      const id = `${m.sentAt}|${m.templateId}|${JSON.stringify(m.data)}`;
      if (state.templates.has(id)) continue;
      state.templates.add(id);
      addTemplate(m);
    }
  } catch {
    // The next poll tries again.
  }
}

function toggleTray() {
  const open = $('tray').hidden;
  $('tray').hidden = !open;
  $('tray-toggle').setAttribute('aria-expanded', String(open));
}

async function enter(event) {
  event.preventDefault();
  const tenantId = $('tenant').value;
  const cardholderKey = $('cardholder').value || 'anon';
  const tenant = state.demo.tenants.find((t) => t.id === tenantId);
  const holder = $('cardholder').value ? state.demo.cardholders[Number($('cardholder').value)] : null;
  setStatus('正在进入公众号…');
  try {
    const openid = await sandboxUser(tenantId, cardholderKey, false);
    const menu = await call('GET', path(API.oaMenu, { tenantId }));
    state.session = { tenantId, cardholderKey, openid };
    state.seen = new Set();
    state.firstPoll = true;
    $('messages').textContent = '';
    $('chat-title').textContent = tenant ? tenant.name : tenantId;
    $('who').textContent = holder ? `以 ${holder.name} 的微信身份` : '以新用户身份';
    renderMenu(menu);
    $('text').disabled = false;
    $('send').disabled = false;
    $('text').placeholder = '发送消息，例如：帮助';
    addMessage('system', '已进入公众号。发送「帮助」查看可用指令。');
    setStatus(`已进入「${tenant ? tenant.name : tenantId}」。`);
    state.templates = new Set();
    $('tray-list').textContent = '';
    $('tray-count').textContent = '0';
    $('tray-empty').hidden = false;
    closeWebview();
    clearInterval(state.pollTimer);
    await Promise.all([poll(), pollTemplates()]);
    state.pollTimer = setInterval(() => {
      void poll();
      void pollTemplates();
    }, POLL_MS);
    $('text').focus();
  } catch (err) {
    setStatus(`无法进入公众号：${err.message}`);
  }
}

async function submitText(event) {
  event.preventDefault();
  const input = $('text');
  const text = input.value.trim();
  if (!text || state.busy) return;
  state.busy = true;
  $('send').disabled = true;
  addMessage('from-user', text);
  input.value = '';
  try {
    await send({ text });
  } finally {
    state.busy = false;
    $('send').disabled = false;
    input.focus();
  }
}

async function init() {
  $('tenant').addEventListener('change', fillCardholders);
  $('setup-form').addEventListener('submit', enter);
  $('composer').addEventListener('submit', submitText);
  $('webview-close').addEventListener('click', closeWebview);
  $('webview-frame').addEventListener('load', onFrameLoad);
  $('tray-toggle').addEventListener('click', toggleTray);
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape') return;
    for (const b of document.querySelectorAll('.menu [aria-expanded="true"]')) {
      const list = $(b.getAttribute('aria-controls'));
      toggleSubmenu(b, list, false);
      b.focus();
    }
  });
  setStatus('正在读取演示数据…');
  try {
    state.demo = await call('GET', API.demo);
    fillTenants();
    setStatus(state.demo.tenants.length > 0 ? '' : '没有演示机构：请先运行 npm run seed。');
  } catch (err) {
    setStatus(`无法读取演示数据：${err.message}`);
  }
}

document.addEventListener('DOMContentLoaded', init);
