// Citizen cards as the top-up module sees them: form (electronic/physical), real name, T-Union, status, and the PBOC stored-value cap that applies.
import type { CoreCard } from '../core/index.ts';
import { citizenStatusOf, storedValueCapFen, type CitizenCardStatus } from './policy.ts';

export interface CitizenCard {
  coreCardId: string;
  maskedNumber: string;
  /** Electronic cards are credited at once; physical ones need an on-card load (圈存). */
  form: 'electronic' | 'physical';
  /** 实名 (registered): the ¥5,000 cap; anonymous cards ¥1,000. */
  realName: boolean;
  /** 交通联合 card, accepted across cities. */
  tUnion: boolean;
  status: CitizenCardStatus;
  /** Frozen by the operator or risk control: no top-up while frozen. */
  frozen: boolean;
  storedValueCapFen: bigint;
  ledgerAccountId: string;
}

/** The citizen-card view of a core card; undefined for a card that is not a citizen card. */
export function citizenCard(card: CoreCard): CitizenCard | undefined {
  if (card.kind !== 'citizen' || !card.citizen) return undefined;
  return {
    coreCardId: card.id,
    maskedNumber: card.maskedNumber,
    form: card.citizen.form,
    realName: card.citizen.realName,
    tUnion: card.citizen.tUnion,
    status: citizenStatusOf(card.status),
    frozen: card.status === 'frozen',
    storedValueCapFen: storedValueCapFen(card.citizen.realName),
    ledgerAccountId: card.ledgerAccountId,
  };
}
