// The contact QR image link as the H5 page loads it: WeCom's http links to its image hosts become https, nothing else changes.
import { describe, expect, it } from 'vitest';
import { DEFAULT_WECOM_QR_IMAGE_ORIGINS } from '../../../src/app/config.ts';
import { pageQrUrl } from '../../../src/contact/contact.ts';
import { h5Csp } from '../../../src/web/index.ts';

describe('the contact QR image link', () => {
  it('answers WeCom’s http link to a configured image host as https, path kept', () => {
    // The shape add_contact_way answers (WeCom's documentation example).
    expect(pageQrUrl('http://p.qpic.cn/wwhead/duc2TvpEgSSjibPZlNR6chpx9W3dtd9Ogp8XEmSNKGa6uufMWn2239HUPuwIFoYYZ7Ph580FPvo8/0', DEFAULT_WECOM_QR_IMAGE_ORIGINS)).toBe(
      'https://p.qpic.cn/wwhead/duc2TvpEgSSjibPZlNR6chpx9W3dtd9Ogp8XEmSNKGa6uufMWn2239HUPuwIFoYYZ7Ph580FPvo8/0',
    );
    expect(pageQrUrl('https://wework.qpic.cn/wwpic/1/0', DEFAULT_WECOM_QR_IMAGE_ORIGINS)).toBe('https://wework.qpic.cn/wwpic/1/0');
  });

  it('leaves other links as stored (the sandbox’s own page, an unknown host) and passes null through', () => {
    expect(pageQrUrl('http://127.0.0.1:3000/sandbox/wecom/qr/cfg_1', DEFAULT_WECOM_QR_IMAGE_ORIGINS)).toBe('http://127.0.0.1:3000/sandbox/wecom/qr/cfg_1');
    expect(pageQrUrl('http://evil.example/qr.png', DEFAULT_WECOM_QR_IMAGE_ORIGINS)).toBe('http://evil.example/qr.png');
    expect(pageQrUrl('http://p.qpic.cn:8080/x', DEFAULT_WECOM_QR_IMAGE_ORIGINS)).toBe('http://p.qpic.cn:8080/x');
    expect(pageQrUrl(null, DEFAULT_WECOM_QR_IMAGE_ORIGINS)).toBeNull();
  });

  it('lets the H5 pages load images from exactly the configured origins', () => {
    const csp = h5Csp(DEFAULT_WECOM_QR_IMAGE_ORIGINS);
    expect(csp).toContain("img-src 'self' data: blob: https://p.qpic.cn https://wework.qpic.cn;");
    expect(h5Csp()).toContain("img-src 'self' data: blob:;");
    // Nothing else widens: scripts and connections stay same-origin.
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("connect-src 'self';");
  });
});
