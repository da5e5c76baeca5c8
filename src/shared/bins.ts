// BIN (issuer identification number) table: card prefix → issuing bank, network and card type, longest prefix wins.
//
// Prefixes are the public BINs of UnionPay member banks as printed on their cards and listed in the
// UnionPay BIN directory; entries were cross-checked against a public compilation (hexindai/bcbc,
// data/bin.csv). Issuer codes follow the widely used bank codes of the Chinese payment industry
// (ICBC, ABC, COMM, SPABANK …). The table is deliberately a curated subset — the major banks and a
// few city/rural examples — used to label cards; it never decides whether a card is valid: the bank
// does. An unknown BIN is normal and must not be treated as an error.

export type CardNetwork = 'unionpay' | 'visa' | 'mastercard' | 'jcb' | 'amex';
/** 准贷记卡 (semi-credit: a deposit card with a small overdraft) is its own kind in China. */
export type CardType = 'debit' | 'credit' | 'semi_credit';

export interface Issuer {
  code: string;
  /** Chinese name, as shown to cardholders. */
  name: string;
  nameEn: string;
}

export interface BinInfo {
  bin: string;
  issuer: string;
  issuerEn: string;
  issuerCode: string;
  network: CardNetwork;
  cardType?: CardType;
}

export const ISSUERS: Readonly<Record<string, Issuer>> = Object.freeze({
  ICBC: { code: 'ICBC', name: '中国工商银行', nameEn: 'Industrial and Commercial Bank of China' },
  ABC: { code: 'ABC', name: '中国农业银行', nameEn: 'Agricultural Bank of China' },
  BOC: { code: 'BOC', name: '中国银行', nameEn: 'Bank of China' },
  CCB: { code: 'CCB', name: '中国建设银行', nameEn: 'China Construction Bank' },
  COMM: { code: 'COMM', name: '交通银行', nameEn: 'Bank of Communications' },
  PSBC: { code: 'PSBC', name: '中国邮政储蓄银行', nameEn: 'Postal Savings Bank of China' },
  CMB: { code: 'CMB', name: '招商银行', nameEn: 'China Merchants Bank' },
  CITIC: { code: 'CITIC', name: '中信银行', nameEn: 'China CITIC Bank' },
  CEB: { code: 'CEB', name: '中国光大银行', nameEn: 'China Everbright Bank' },
  CMBC: { code: 'CMBC', name: '中国民生银行', nameEn: 'China Minsheng Bank' },
  CIB: { code: 'CIB', name: '兴业银行', nameEn: 'Industrial Bank' },
  SPDB: { code: 'SPDB', name: '上海浦东发展银行', nameEn: 'Shanghai Pudong Development Bank' },
  SPABANK: { code: 'SPABANK', name: '平安银行', nameEn: 'Ping An Bank' },
  GDB: { code: 'GDB', name: '广发银行', nameEn: 'China Guangfa Bank' },
  HXBANK: { code: 'HXBANK', name: '华夏银行', nameEn: 'Hua Xia Bank' },
  BJBANK: { code: 'BJBANK', name: '北京银行', nameEn: 'Bank of Beijing' },
  SHBANK: { code: 'SHBANK', name: '上海银行', nameEn: 'Bank of Shanghai' },
  JSBANK: { code: 'JSBANK', name: '江苏银行', nameEn: 'Bank of Jiangsu' },
  NBBANK: { code: 'NBBANK', name: '宁波银行', nameEn: 'Bank of Ningbo' },
  BJRCB: { code: 'BJRCB', name: '北京农村商业银行', nameEn: 'Beijing Rural Commercial Bank' },
  SHRCB: { code: 'SHRCB', name: '上海农村商业银行', nameEn: 'Shanghai Rural Commercial Bank' },
  GRCB: { code: 'GRCB', name: '广州农村商业银行', nameEn: 'Guangzhou Rural Commercial Bank' },
  CRCBANK: { code: 'CRCBANK', name: '重庆农村商业银行', nameEn: 'Chongqing Rural Commercial Bank' },
  CDRCB: { code: 'CDRCB', name: '成都农村商业银行', nameEn: 'Chengdu Rural Commercial Bank' },
  WHRCB: { code: 'WHRCB', name: '武汉农村商业银行', nameEn: 'Wuhan Rural Commercial Bank' },
  JSRCU: { code: 'JSRCU', name: '江苏省农村信用社联合社', nameEn: 'Jiangsu Rural Credit Union' },
  ZJNX: { code: 'ZJNX', name: '浙江省农村信用社联合社', nameEn: 'Zhejiang Rural Credit Union' },
  GDRCC: { code: 'GDRCC', name: '广东省农村信用社联合社', nameEn: 'Guangdong Rural Credit Union' },
  SDRCU: { code: 'SDRCU', name: '山东省农村信用社联合社', nameEn: 'Shandong Rural Credit Union' },
  SCRCU: { code: 'SCRCU', name: '四川省农村信用社联合社', nameEn: 'Sichuan Rural Credit Union' },
  FJNX: { code: 'FJNX', name: '福建省农村信用社联合社', nameEn: 'Fujian Rural Credit Union' },
  HNRCC: { code: 'HNRCC', name: '湖南省农村信用社联合社', nameEn: 'Hunan Rural Credit Union' },
});

// [prefix, issuer code, card type]. D = debit, C = credit, S = semi-credit.
type Row = readonly [string, string, 'D' | 'C' | 'S'];
const D = 'D';
const C = 'C';
const S = 'S';

function rows(code: string, type: 'D' | 'C' | 'S', prefixes: string): Row[] {
  return prefixes.split(/\s+/).filter(Boolean).map((p) => [p, code, type] as const);
}

const TABLE: Row[] = [
  // Large state-owned banks.
  ...rows('ICBC', D, '622202 622203 622208 622200 621226 621225 621281 621288 621558 621559 621670 620058 95588'),
  ...rows('ICBC', C, '622210 622230 625858 427020 451810'),
  ...rows('ABC', D, '622848 622845 622846 622849 622841 622843 622844 622847 622821 622823 622827 621282 621336 621619 621671 623018 623052 95599 95595 103'),
  ...rows('ABC', C, '622836 625996 403361'),
  ...rows('ABC', S, '622820 622830'),
  ...rows('BOC', D, '621660 621661 621662 621663 621666 621667 621668 621669 621756 621757 621758 621759 621785 621786 621787 621788 621789 621790 623569 601382 456351'),
  ...rows('BOC', C, '622760 625905 625906 625907 625908 625909 625910 409666'),
  ...rows('CCB', D, '621700 622700 622280 621081 621284 621467 621598 621621 623668 436742'),
  ...rows('CCB', C, '622166 622675 622676 622677 625964 436745'),
  ...rows('COMM', D, '622260 622261 622262 622258 622259 621069 601428 405512'),
  ...rows('COMM', C, '622251 622252 622253 458123'),
  ...rows('COMM', S, '622254 622255 622256 622257'),
  ...rows('PSBC', D, '621799 621797 621798 621098 621095 621096 621285 620062 622150 622151 622181 622187 622188 622189 623218 955100'),
  ...rows('PSBC', C, '622810 622811 622812 625919'),
  // Joint-stock commercial banks.
  ...rows('CMB', D, '622588 622580 622609 621483 621485 621486 621286 95555 410062 468203 512425 524011'),
  ...rows('CMB', C, '622575 622576 622577 622578 622579 622581 622582 439188 356889'),
  ...rows('CITIC', D, '622690 622691 622692 622696 622698 622998 622999 621767 621768 621769 621770 621771 621772 621773 968807 968808 968809 433670 433671 433680 442729 442730'),
  ...rows('CITIC', C, '622766 622767 622768 622680 622688 622689'),
  ...rows('CEB', D, '622660 622661 622662 622663 622664 622665 622666 622667 622668 622669 621489 621490 621491 621492 620085 620518 623156 90030 303'),
  ...rows('CEB', C, '622650 622655 622657 622658 622659 625975 625976 625977 625978 625979 625980 625981'),
  ...rows('CMBC', D, '622615 622616 622617 622618 622619 622620 622622 621691 623683 415599 421393 421865 427570 427571 472067 472068'),
  ...rows('CMBC', C, '622600 622601 622602 622603 622621 622623 625911 625912 625913'),
  ...rows('CIB', D, '622909 622908 966666 90592 438588 438589'),
  ...rows('CIB', C, '622901 622902 622571 622572 622573 625960 625961 625962 625963 451289'),
  ...rows('SPDB', D, '622521 622522 622523 622516 622517 622518 621791 621792 621793 621795 621796 621351 621352 621390 621275 84301 84336 84342 84361 84373 84380 84385 84390 87000 87010 87030 87040 87050 984301 984303'),
  ...rows('SPDB', C, '622176 622276 622277 622228 625957 625958 625970 625971 456418 498451'),
  ...rows('SPDB', S, '622519 622520'),
  ...rows('SPABANK', D, '622986 622989 622983 622298 622536 622538 622539 621626 623058 602907 998800 412962 412963 415752 415753'),
  ...rows('SPABANK', C, '622155 622156 622157 622525 622526 627066 627067 627068 627069 998801 998802'),
  ...rows('GDB', D, '622568 621462 9111'),
  ...rows('GDB', C, '622555 622556 622557 622558 622559 622560 625071 625072 625073 625808 625809 625810 406365 406366'),
  ...rows('HXBANK', D, '622630 622631 622632 622633 623020 623021 623022 623023 621222 999999'),
  ...rows('HXBANK', C, '622637 622638 625967 625968 625969'),
  // City commercial banks (examples).
  ...rows('BJBANK', D, '621468 621030 623111 602969'),
  ...rows('BJBANK', C, '622163'),
  ...rows('SHBANK', D, '622892 622468 623183 623185 621005'),
  ...rows('SHBANK', C, '622148 622149'),
  ...rows('JSBANK', D, '622173 622866 622876 621076'),
  ...rows('NBBANK', D, '622281 622316 621418'),
  ...rows('NBBANK', C, '622282 622318'),
  // Rural commercial banks and rural credit unions (examples).
  ...rows('BJRCB', D, '621066 621067 621068 622138'),
  ...rows('SHRCB', D, '622478 623162'),
  ...rows('GRCB', D, '622439'),
  ...rows('CRCBANK', D, '621258 621465 621528 622867 622885'),
  ...rows('CDRCB', D, '621516 623088'),
  ...rows('WHRCB', D, '621361 621676 623033 623207'),
  ...rows('JSRCU', D, '622324 622452 623066'),
  ...rows('ZJNX', D, '621678 621736 622858 623091'),
  ...rows('ZJNX', C, '622288 622686'),
  ...rows('GDRCC', D, '621018 621518 621728'),
  ...rows('SDRCU', D, '621521 622319 622320'),
  ...rows('SCRCU', D, '621033 621099 621457 621459 621530'),
  ...rows('FJNX', D, '621701 622127 622184 623036'),
  ...rows('HNRCC', D, '621519 621539 622169 623090'),
];

const CARD_TYPES = { D: 'debit', C: 'credit', S: 'semi_credit' } as const;

/** Shortest and longest prefix lengths in the table (bounds the longest-prefix search). */
const MIN_PREFIX_DIGITS = 3;
const MAX_PREFIX_DIGITS = 10;

/**
 * The card network a number's leading digits belong to, by the networks' published ranges:
 * UnionPay 62, Visa 4, Mastercard 51–55 and 2221–2720, JCB 3528–3589, American Express 34/37.
 */
export function networkOfPrefix(digits: string): CardNetwork | undefined {
  if (digits.startsWith('62')) return 'unionpay';
  if (digits.startsWith('4')) return 'visa';
  const two = Number(digits.slice(0, 2));
  const four = Number(digits.slice(0, 4));
  if (digits.length >= 2 && two >= 51 && two <= 55) return 'mastercard';
  if (digits.length >= 4 && four >= 2221 && four <= 2720) return 'mastercard';
  if (digits.length >= 4 && four >= 3528 && four <= 3589) return 'jcb';
  if (digits.startsWith('34') || digits.startsWith('37')) return 'amex';
  return undefined;
}

function buildIndex(): Map<string, BinInfo> {
  const index = new Map<string, BinInfo>();
  for (const [bin, code, type] of TABLE) {
    const issuer = ISSUERS[code];
    if (!issuer) throw new Error(`BIN ${bin}: unknown issuer ${code}`);
    if (!/^\d+$/.test(bin) || bin.length < MIN_PREFIX_DIGITS || bin.length > MAX_PREFIX_DIGITS) {
      throw new Error(`BIN ${bin}: must be ${MIN_PREFIX_DIGITS}–${MAX_PREFIX_DIGITS} digits`);
    }
    if (index.has(bin)) throw new Error(`BIN ${bin} listed twice`);
    index.set(
      bin,
      Object.freeze({
        bin,
        issuer: issuer.name,
        issuerEn: issuer.nameEn,
        issuerCode: issuer.code,
        // Domestic prefixes outside the international ranges (60…, 9…, 8…, 103, 303) are UnionPay cards.
        network: networkOfPrefix(bin) ?? 'unionpay',
        cardType: CARD_TYPES[type],
      }),
    );
  }
  return index;
}

const INDEX = buildIndex();

/** The table entry whose prefix is the longest one the card number starts with, if any. */
export function lookupBin(cardDigits: string): BinInfo | undefined {
  for (let len = Math.min(MAX_PREFIX_DIGITS, cardDigits.length); len >= MIN_PREFIX_DIGITS; len--) {
    const hit = INDEX.get(cardDigits.slice(0, len));
    if (hit) return hit;
  }
  return undefined;
}

/** Every table entry of one issuer (demo data picks a BIN from these). */
export function binsOfIssuer(issuerCode: string): BinInfo[] {
  return [...INDEX.values()].filter((b) => b.issuerCode === issuerCode);
}
