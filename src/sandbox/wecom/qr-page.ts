// HTML of the sandbox's contact-way QR page: the member to add and a button that "scans" the code as a simulated customer.
import type { SandboxWecomAgent } from './agents.ts';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

const STYLE = `
body{margin:0;font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;background:#ededed;color:#111}
main{max-width:360px;margin:40px auto;background:#fff;border-radius:12px;padding:28px 24px;text-align:center;box-shadow:0 2px 10px rgba(0,0,0,.06)}
.avatar{width:64px;height:64px;border-radius:8px;background:#2b7de9;color:#fff;font-size:28px;line-height:64px;margin:0 auto 12px}
h1{font-size:20px;margin:0 0 4px}.muted{color:#888;font-size:13px;margin:0}
.qr{margin:20px auto;width:168px;height:168px;display:grid;grid-template-columns:repeat(12,1fr);border:8px solid #fff;outline:1px solid #ddd}
.qr i{background:#111}.qr b{background:#fff}
input{width:100%;box-sizing:border-box;padding:10px;border:1px solid #ddd;border-radius:6px;font-size:15px;margin:8px 0}
button{width:100%;padding:12px;border:0;border-radius:6px;background:#07c160;color:#fff;font-size:16px}
button:disabled{background:#9ed8b5}#result{margin-top:14px;font-size:14px;min-height:20px}`;

/** A decorative pattern derived from the config id: the page stands for the QR code, it does not need to scan. */
function pattern(configId: string): string {
  let cells = '';
  for (let i = 0; i < 144; i++) {
    const nibble = parseInt(configId[i % configId.length] ?? '0', 16) || 0;
    cells += (nibble >> (i % 4)) & 1 ? '<i></i>' : '<b></b>';
  }
  return cells;
}

export function renderQrPage(p: { configId: string; agent: SandboxWecomAgent; tenantName: string; scanPath: string; nonce: string }): string {
  const id = escapeHtml(p.configId);
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>添加${escapeHtml(p.agent.name)}为联系人</title><style nonce="${p.nonce}">${STYLE}</style></head>
<body><main data-config-id="${id}">
<div class="avatar">${escapeHtml([...p.agent.name][0] ?? '客')}</div>
<h1>${escapeHtml(p.agent.name)}</h1>
<p class="muted">${escapeHtml(p.tenantName)} · ${escapeHtml(p.agent.title)}</p>
<div class="qr" aria-label="联系我二维码">${pattern(p.configId)}</div>
<p class="muted">扫一扫上面的二维码，添加我为企业微信联系人</p>
<label><input id="name" maxlength="32" placeholder="你的微信昵称（可不填）"></label>
<button id="scan" type="button">扫码添加</button>
<div id="result" role="status"></div>
</main>
<script nonce="${p.nonce}">
const btn = document.getElementById('scan'), out = document.getElementById('result');
btn.addEventListener('click', async () => {
  btn.disabled = true; out.textContent = '添加中…';
  const name = document.getElementById('name').value.trim();
  try {
    const res = await fetch(${JSON.stringify(p.scanPath)}, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(name ? { externalUserName: name } : {}) });
    const body = await res.json();
    out.textContent = res.ok ? (body.delivery.delivered ? '已添加，客服会很快联系你' : '已添加（通知稍后送达）') : (body.detail || '添加失败');
  } catch { out.textContent = '网络错误'; }
  btn.disabled = false;
});
</script></body></html>`;
}

export function renderGonePage(): string {
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>二维码已失效</title></head>
<body style="font-family:sans-serif;text-align:center;padding-top:80px;color:#888"><p>该二维码已失效</p></body></html>`;
}
