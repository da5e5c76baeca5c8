// The sandbox QR page escapes everything it shows and scripts only under its nonce.
import { describe, expect, it } from 'vitest';
import { escapeHtml, renderQrPage } from '../../../../src/sandbox/wecom/qr-page.ts';

describe('sandbox QR page', () => {
  const page = renderQrPage({
    configId: '0123456789abcdef0123456789abcdef',
    agent: { userId: 'x', name: '<img src=x onerror=alert(1)>', title: '"客服"' },
    tenantName: '</title><script>alert(2)</script>',
    scanPath: '../../api/wecom/contact-ways/0123456789abcdef0123456789abcdef/scan',
    nonce: 'n0nce',
  });

  it('shows the member and tenant names as text, never as markup', () => {
    expect(page).not.toContain('<img src=x');
    expect(page).not.toContain('<script>alert(2)');
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(page).toContain('&quot;客服&quot;');
  });

  it('has exactly one script and one style, both carrying the nonce', () => {
    expect(page.match(/<script/g)).toHaveLength(1);
    expect(page).toContain('<script nonce="n0nce">');
    expect(page).toContain('<style nonce="n0nce">');
  });

  it('escapes the five HTML metacharacters', () => {
    expect(escapeHtml(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&#39;');
  });
});
