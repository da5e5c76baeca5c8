// Masked display forms of sensitive values (JR/T 0171-2020 C2 data): what logs and answers may show.

/** Card: first 6 and last 4, the rest `*` (`622848*********8903`). */
export function maskCardNumber(digits: string): string {
  const d = digits.replace(/\s+/g, '');
  if (d.length <= 10) return '*'.repeat(d.length);
  return `${d.slice(0, 6)}${'*'.repeat(d.length - 10)}${d.slice(-4)}`;
}

/** Mainland mobile: `138****0000`; other lengths keep the first 3 and last 2 at most. */
export function maskPhone(phone: string): string {
  const p = phone.replace(/[\s-]/g, '');
  if (/^1\d{10}$/.test(p)) return `${p.slice(0, 3)}****${p.slice(7)}`;
  if (p.length <= 5) return '*'.repeat(p.length);
  return `${p.slice(0, 3)}${'*'.repeat(p.length - 5)}${p.slice(-2)}`;
}

/** ID document number: first 1–3 and last 1–4 characters (resident ID: `110***********002X`). */
export function maskIdNumber(id: string): string {
  const s = id.trim();
  if (s.length >= 15) return `${s.slice(0, 3)}${'*'.repeat(s.length - 7)}${s.slice(-4)}`;
  if (s.length >= 8) return `${s.slice(0, 1)}${'*'.repeat(s.length - 3)}${s.slice(-2)}`;
  return '*'.repeat(s.length);
}

/** Chinese name: the surname (first character) masked, e.g. `*小明`; a two-character name keeps its last. */
export function maskName(name: string): string {
  const chars = [...name.trim()];
  if (chars.length === 0) return '';
  if (chars.length === 1) return '*';
  if (/^[\p{Script=Han}·]+$/u.test(name.trim())) return `*${chars.slice(1).join('')}`;
  // Latin names: first letter of each word, the rest masked.
  return name
    .trim()
    .split(/\s+/)
    .map((w) => `${w[0]}${'*'.repeat(Math.max(0, w.length - 1))}`)
    .join(' ');
}

// Backstop patterns for free text (log lines): exact-length digit runs not inside longer numbers.
const CARD_RUN = /(?<![0-9A-Za-z])(62|4|5|3)\d{14,18}(?![0-9])/g;
const RESIDENT_ID_RUN = /(?<![0-9A-Za-z])[1-9]\d{16}[0-9Xx](?![0-9A-Za-z])/g;
const MOBILE_RUN = /(?<![0-9])1[3-9]\d{9}(?![0-9])/g;

/**
 * Masks anything in free text that looks like a card number, resident ID or mobile number.
 * Used as the logger's last line of defence; typed wrappers and redaction are the first.
 */
export function scrubText(text: string): string {
  return text
    .replace(RESIDENT_ID_RUN, (m) => maskIdNumber(m))
    .replace(CARD_RUN, (m) => maskCardNumber(m))
    .replace(MOBILE_RUN, (m) => maskPhone(m));
}
