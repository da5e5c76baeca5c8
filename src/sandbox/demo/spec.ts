// The demo institutions and cardholders, derived deterministically from fixed seeds (fictitious people and numbers).
import { generateCardNumber, seededRandom, randomInt, type RandomSource } from '../../shared/card-number.ts';
import { generateIdNumber, type IdType } from '../../shared/id-document.ts';
import { isWeakPaymentPassword } from '../../core/index.ts';
import type { CitizenCardInfo, CardKind, CardStatus } from '../../core/index.ts';
import type { PresetId, TenantKind, OaCredentials } from '../../tenants/index.ts';

/** How a card's year of transactions looks (transactions.ts). */
export type SpendingProfile = 'salaried' | 'wealthy' | 'dormant' | 'credit' | 'citizen' | 'foreign_currency' | 'retired';

export interface DemoTenantSpec {
  id: string;
  name: string;
  kind: TenantKind;
  preset: PresetId;
  oaMode: OaCredentials['mode'];
}

export interface DemoCardSpec {
  kind: CardKind;
  currency: string;
  /** A real issuer prefix (shared/bins.ts) so the number labels like a genuine card. */
  bin: string;
  length: 16 | 19;
  status: CardStatus;
  profile: SpendingProfile;
  citizen?: CitizenCardInfo;
  /** Monthly income (salary or pension) in fen, for the profiles that have one. */
  monthlyIncomeFen?: bigint;
}

export interface DemoCardholderSpec {
  /** Stable key within the tenant (`h1`…): the PRNG seed and the idempotency prefix derive from it. */
  key: string;
  tenantId: string;
  name: string;
  idType: IdType;
  birthDate: string;
  sex: 'male' | 'female';
  regionCode?: string;
  cards: DemoCardSpec[];
}

/** A cardholder with the generated numbers filled in. */
export interface DemoCardholder extends DemoCardholderSpec {
  idNumber: string;
  phone: string;
  paymentPassword: string;
  cardNumbers: string[];
}

export const DEMO_TENANTS: readonly DemoTenantSpec[] = [
  { id: 'abc-demo', name: '示范农业银行（演示）', kind: 'bank', preset: 'agricultural', oaMode: 'safe' },
  { id: 'realtime-bank', name: '实时银行（演示）', kind: 'bank', preset: 'unlimited-realtime', oaMode: 'safe' },
  { id: 'daily10-bank', name: '日限十次银行（演示）', kind: 'bank', preset: 'daily-10', oaMode: 'plain' },
  { id: 'daily20-bank', name: '日限二十次银行（演示）', kind: 'bank', preset: 'daily-20', oaMode: 'compatible' },
  { id: 'hz-citizen-card', name: '杭州市民卡（演示）', kind: 'citizen_card', preset: 'citizen-card', oaMode: 'safe' },
];

const YUAN = 100n;
const debit = (bin: string, profile: SpendingProfile, extra: Partial<DemoCardSpec> = {}): DemoCardSpec => ({
  kind: 'debit', currency: 'CNY', bin, length: 19, status: 'active', profile, ...extra,
});
const credit = (bin: string): DemoCardSpec => ({ kind: 'credit', currency: 'CNY', bin, length: 16, status: 'active', profile: 'credit' });
const citizen = (info: CitizenCardInfo): DemoCardSpec => ({
  // 浙江农信 co-branded UnionPay prefix: Hangzhou's citizen cards carry a bank function.
  kind: 'citizen', currency: 'CNY', bin: '623091', length: 19, status: 'active', profile: 'citizen', citizen: info,
});

// BINs: ABC 622848/625996, CMB 621483/622575, ICBC 622202/622230, CCB 621700/622166 (shared/bins.ts).
export const DEMO_CARDHOLDERS: readonly DemoCardholderSpec[] = [
  // 示范农业银行: a salaried customer, a Hong Kong resident (回乡证), a dormant account, and one with ≥ ¥500,000.
  { key: 'h1', tenantId: 'abc-demo', name: '张伟明', idType: 'resident_id', birthDate: '1986-04-12', sex: 'male', regionCode: '330106',
    cards: [debit('622848', 'salaried', { monthlyIncomeFen: 12_800n * YUAN }), credit('625996')] },
  { key: 'h2', tenantId: 'abc-demo', name: '陈家豪', idType: 'hk_macao_travel_permit', birthDate: '1979-09-30', sex: 'male',
    cards: [debit('622848', 'salaried', { monthlyIncomeFen: 21_500n * YUAN })] },
  { key: 'h3', tenantId: 'abc-demo', name: '刘德福', idType: 'resident_id', birthDate: '1958-01-23', sex: 'male', regionCode: '420106',
    cards: [debit('622845', 'dormant', { status: 'dormant' })] },
  { key: 'h4', tenantId: 'abc-demo', name: '王建国', idType: 'resident_id', birthDate: '1968-07-01', sex: 'male', regionCode: '110105',
    cards: [debit('622848', 'wealthy', { monthlyIncomeFen: 38_000n * YUAN })] },
  // 实时银行: one card in US dollars for multi-currency statements.
  { key: 'h1', tenantId: 'realtime-bank', name: '李晓红', idType: 'resident_id', birthDate: '1991-11-08', sex: 'female', regionCode: '310104',
    cards: [debit('621483', 'salaried', { monthlyIncomeFen: 16_300n * YUAN }), credit('622575')] },
  { key: 'h2', tenantId: 'realtime-bank', name: '赵志强', idType: 'resident_id', birthDate: '1983-03-15', sex: 'male', regionCode: '440305',
    cards: [debit('621483', 'salaried', { monthlyIncomeFen: 24_000n * YUAN }), debit('621483', 'foreign_currency', { currency: 'USD' })] },
  { key: 'h3', tenantId: 'realtime-bank', name: '孙丽娟', idType: 'resident_id', birthDate: '1955-05-20', sex: 'female', regionCode: '320102',
    cards: [debit('621483', 'retired', { monthlyIncomeFen: 4_600n * YUAN })] },
  // 日限十次银行: dormant cards stay queryable online under this preset.
  { key: 'h1', tenantId: 'daily10-bank', name: '周文斌', idType: 'resident_id', birthDate: '1988-02-27', sex: 'male', regionCode: '510107',
    cards: [debit('622202', 'salaried', { monthlyIncomeFen: 9_800n * YUAN }), credit('622230')] },
  { key: 'h2', tenantId: 'daily10-bank', name: '吴秀英', idType: 'resident_id', birthDate: '1962-12-03', sex: 'female', regionCode: '370202',
    cards: [debit('622202', 'retired', { monthlyIncomeFen: 3_900n * YUAN }), debit('622208', 'dormant', { status: 'dormant' })] },
  { key: 'h3', tenantId: 'daily10-bank', name: '郑浩然', idType: 'hmt_residence_permit', birthDate: '1994-06-18', sex: 'male',
    cards: [debit('622202', 'salaried', { monthlyIncomeFen: 14_200n * YUAN })] },
  // 日限二十次银行.
  { key: 'h1', tenantId: 'daily20-bank', name: '冯雅婷', idType: 'resident_id', birthDate: '1996-08-09', sex: 'female', regionCode: '610113',
    cards: [debit('621700', 'salaried', { monthlyIncomeFen: 8_600n * YUAN })] },
  { key: 'h2', tenantId: 'daily20-bank', name: '何俊杰', idType: 'resident_id', birthDate: '1981-10-21', sex: 'male', regionCode: '440106',
    cards: [debit('621700', 'salaried', { monthlyIncomeFen: 19_700n * YUAN }), credit('622166')] },
  { key: 'h3', tenantId: 'daily20-bank', name: '林美玲', idType: 'taiwan_travel_permit', birthDate: '1977-04-04', sex: 'female',
    cards: [debit('621700', 'salaried', { monthlyIncomeFen: 17_500n * YUAN })] },
  // 杭州市民卡: an elderly holder with a physical card, an electronic card, an anonymous T-Union card.
  { key: 'h1', tenantId: 'hz-citizen-card', name: '黄国平', idType: 'resident_id', birthDate: '1949-10-01', sex: 'male', regionCode: '330106',
    cards: [citizen({ form: 'physical', realName: true, tUnion: false })] },
  { key: 'h2', tenantId: 'hz-citizen-card', name: '徐静', idType: 'resident_id', birthDate: '1993-01-17', sex: 'female', regionCode: '330106',
    cards: [citizen({ form: 'electronic', realName: true, tUnion: true })] },
  { key: 'h3', tenantId: 'hz-citizen-card', name: '马小宇', idType: 'resident_id', birthDate: '2004-05-26', sex: 'male', regionCode: '330106',
    cards: [citizen({ form: 'electronic', realName: false, tUnion: true })] },
];

/** FNV-1a: a 32-bit seed from a label, so each cardholder's numbers are independent of the others. */
export function seedOf(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function randomFor(label: string): RandomSource {
  return seededRandom(seedOf(`wecard-demo/${label}`));
}

function paymentPassword(random: RandomSource): string {
  for (;;) {
    let pw = '';
    for (let i = 0; i < 6; i++) pw += String(randomInt(random, 10));
    if (!isWeakPaymentPassword(pw)) return pw;
  }
}

/**
 * Obviously fake mainland mobiles: 138 0000 TNNN (T = tenant position, NNN = holder), a pattern no
 * one mistakes for a real subscriber's number in a demo sheet.
 */
function demoPhone(tenantIndex: number, holderIndex: number): string {
  return `1380000${tenantIndex + 1}${String(holderIndex + 1).padStart(3, '0')}`;
}

/** The cardholders with their generated document, card and phone numbers and payment password. */
export function demoCardholders(): DemoCardholder[] {
  const perTenant = new Map<string, number>();
  return DEMO_CARDHOLDERS.map((h) => {
    const tenantIndex = DEMO_TENANTS.findIndex((t) => t.id === h.tenantId);
    const holderIndex = perTenant.get(h.tenantId) ?? 0;
    perTenant.set(h.tenantId, holderIndex + 1);
    const random = randomFor(`${h.tenantId}/${h.key}`);
    const region = h.idType === 'hk_macao_travel_permit' || h.idType === 'hmt_residence_permit' ? 'HK' : h.idType === 'taiwan_travel_permit' ? 'TW' : undefined;
    const idNumber = generateIdNumber(h.idType, random, {
      today: '2026-01-01',
      birthDate: h.birthDate,
      sex: h.sex,
      ...(h.regionCode ? { regionCode: h.regionCode } : {}),
      ...(region ? { region } : {}),
    });
    const cardNumbers = h.cards.map((c) => generateCardNumber(c.bin, random, c.length));
    return { ...h, idNumber, phone: demoPhone(tenantIndex, holderIndex), paymentPassword: paymentPassword(random), cardNumbers };
  });
}
