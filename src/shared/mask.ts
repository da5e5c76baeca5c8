// Masked display forms of sensitive values (JR/T 0171-2020 C2 data): what logs and answers may show.

/** Card: first 6 and last 4, the rest `*` (`622848*********8903`). Spaces and dashes are dropped. */
export function maskCardNumber(digits: string): string {
  const d = digits.replace(/[\s-]+/g, '');
  if (d.length <= 10) return '*'.repeat(d.length);
  return `${d.slice(0, 6)}${'*'.repeat(d.length - 10)}${d.slice(-4)}`;
}

/**
 * Mainland mobile: `138****0000` (a `+86` / `0086` / `86` prefix is dropped first); other numbers
 * keep the first 3 and last 2 at most.
 */
export function maskPhone(phone: string): string {
  const p = phone.replace(/[\s-]/g, '').replace(/^(?:\+86|0086|86)(?=1\d{10}$)/, '');
  if (/^1\d{10}$/.test(p)) return `${p.slice(0, 3)}****${p.slice(7)}`;
  if (p.length <= 5) return '*'.repeat(p.length);
  return `${p.slice(0, 3)}${'*'.repeat(p.length - 5)}${p.slice(-2)}`;
}

/**
 * ID document number: first 1–3 and last 1–4 characters, by length (resident ID:
 * `110***********002X`; 回乡证 `H******78`; short passports `E***5`); 4 characters or fewer: all `*`.
 */
export function maskIdNumber(id: string): string {
  const s = id.replace(/\s+/g, '');
  if (s.length >= 15) return `${s.slice(0, 3)}${'*'.repeat(s.length - 7)}${s.slice(-4)}`;
  if (s.length >= 8) return `${s.slice(0, 1)}${'*'.repeat(s.length - 3)}${s.slice(-2)}`;
  if (s.length >= 5) return `${s.slice(0, 1)}${'*'.repeat(s.length - 2)}${s.slice(-1)}`;
  return '*'.repeat(s.length);
}

// Two-character (复姓) surnames, from the traditional list 《百家姓》, that are kept whole.
const COMPOUND_SURNAMES: ReadonlySet<string> = new Set([
  '欧阳', '司马', '上官', '诸葛', '东方', '皇甫', '尉迟', '公孙', '慕容', '长孙', '宇文', '司徒', '夏侯',
  '轩辕', '令狐', '独孤', '南宫', '西门', '百里', '呼延', '端木', '澹台', '公冶', '太史', '申屠', '钟离',
  '闻人', '万俟', '赫连', '拓跋', '司空', '濮阳', '淳于', '单于', '东郭', '仲孙', '左丘', '第五', '谷梁',
  '梁丘', '亓官', '羊舌', '微生', '公西', '乐正', '宗政', '巫马', '漆雕', '公良', '颛孙', '子车', '闾丘',
]);
// Separators shown as they are: the middle dot of transliterated names (买买提·艾力), spaces, hyphens.
const NAME_SEPARATOR = /^[\s·•・.\-'’]$/u;

/**
 * Person name: the surname stays, every other letter becomes `*`: `张三` → `张*`, `王小明` → `王**`,
 * `欧阳娜娜` → `欧阳**` (a compound surname counts as the surname when the name has 3+ characters),
 * `买买提·艾力` → `买**·**`, `John Smith` → `J*** *****`. A one-character name is `*`.
 */
export function maskName(name: string): string {
  const chars = [...name.trim().replace(/\s+/g, ' ')];
  if (chars.length === 0) return '';
  if (chars.length === 1) return '*';
  const keep = chars.length >= 3 && COMPOUND_SURNAMES.has(`${chars[0]}${chars[1]}`) ? 2 : 1;
  return chars.map((c, i) => (i < keep || NAME_SEPARATOR.test(c) ? c : '*')).join('');
}

// Backstop patterns for free text (log lines): exact-length digit runs not inside longer numbers,
// plain or grouped with spaces/dashes as people type them. Resident IDs go first so an 18-digit
// ID is masked as an ID. Any 16–19 digit run is treated as a card: besides 62 (UnionPay), Chinese
// banks issue domestic cards under 60…, 9…, 8… and other prefixes (601382, 955100, 84301…).
const RESIDENT_ID_RUN = /(?<!\d)[1-9]\d{5}[ -]?\d{8}[ -]?\d{3}[0-9Xx](?![0-9A-Za-z])/g;
const CARD_RUN = /(?<!\d)[1-9]\d{15,18}(?!\d)/g;
const CARD_GROUPED = /(?<!\d)\d{4}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?(?![\d])/g;
const MAY_HOLD_NUMBER = /\d{4}[ -]?\d{4}/;
const MOBILE_RUN = /(?<!\d)(?:(?:\+|00)?86[ -]?)?1[3-9]\d(?:\d{8}|[ -]\d{4}[ -]\d{4})(?!\d)/g;

/**
 * Masks anything in free text that looks like a card number, resident ID or mobile number.
 * Used as the logger's last line of defence; typed wrappers and redaction are the first.
 */
export function scrubText(text: string): string {
  // Every pattern above holds eight digits with at most one separator inside (1234 5678, 12345678):
  // a line without such a run (most lines) skips the four passes.
  if (!MAY_HOLD_NUMBER.test(text)) return text;
  return text
    .replace(RESIDENT_ID_RUN, (m) => maskIdNumber(m.replace(/[ -]/g, '')))
    .replace(CARD_RUN, (m) => maskCardNumber(m))
    .replace(CARD_GROUPED, (m) => maskCardNumber(m))
    .replace(MOBILE_RUN, (m) => maskPhone(m));
}
