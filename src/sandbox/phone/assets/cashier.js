// The sandbox's WeChat Pay cashier: shows the order behind a prepay_id, "pays" it through the sandbox platform, then goes back to the page that asked.
'use strict';

/** Every sandbox endpoint the page calls ({name} is filled in); the page test checks each exists. */
const API = {
  order: '/sandbox/api/pay/orders/{prepayId}',
  pay: '/sandbox/api/pay/orders/{prepayId}/pay',
};
/** Where the cashier may send the payer back to: pages of this server's H5 app only (never an open redirect). */
const RETURN_PATH = /^\/h5\/[A-Za-z0-9/_-]{0,200}$/;
const PREPAY_ID = /^[A-Za-z0-9_-]{1,64}$/;

const $ = (id) => document.getElementById(id);

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
  if (!res.ok) throw new Error((data && (data.detail || data.title)) || `HTTP ${res.status}`);
  return data;
}

/** `12345` fen → `¥123.45`, integer arithmetic. */
function yuan(fen) {
  const n = BigInt(fen);
  const abs = n < 0n ? -n : n;
  const whole = (abs / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${n < 0n ? '-' : ''}¥${whole}.${(abs % 100n).toString().padStart(2, '0')}`;
}

function back() {
  const target = new URLSearchParams(location.search).get('return');
  location.assign(target && RETURN_PATH.test(target) ? target : '/sandbox/');
}

async function init() {
  const prepayId = new URLSearchParams(location.search).get('prepayId') || '';
  $('cancel').addEventListener('click', back);
  $('done').addEventListener('click', back);
  if (!PREPAY_ID.test(prepayId)) {
    $('error').textContent = '缺少或无效的 prepayId。';
    return;
  }
  let order;
  try {
    order = await call('GET', path(API.order, { prepayId }));
  } catch (err) {
    $('error').textContent = `无法读取订单：${err.message}`;
    return;
  } finally {
    $('order').removeAttribute('aria-busy');
  }
  $('description').textContent = order.description;
  $('amount').textContent = yuan(order.amount.total);
  $('merchant').textContent = `商户号 ${order.mchid}`;
  if (order.state !== 'NOTPAY') {
    $('pay-form').hidden = true;
    $('result').hidden = false;
    $('result-text').textContent = order.state === 'SUCCESS' ? '该订单已支付' : '订单已关闭或已过期';
    return;
  }
  $('password').disabled = false;
  $('pay').disabled = false;
  $('password').focus();
  $('pay-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!/^\d{6}$/.test($('password').value)) {
      $('error').textContent = '请输入6位数字支付密码。';
      return;
    }
    $('error').textContent = '';
    $('pay').disabled = true;
    try {
      await call('POST', path(API.pay, { prepayId }), {});
      $('pay-form').hidden = true;
      $('result').hidden = false;
      $('result-text').textContent = `支付成功 ${yuan(order.amount.total)}`;
      $('done').focus();
    } catch (err) {
      $('error').textContent = `支付失败：${err.message}`;
      $('pay').disabled = false;
    }
  });
}

document.addEventListener('DOMContentLoaded', init);
