// Row types of the sandbox card system's table (created by migration 0019_interchange): the simulated card system's own record of card statuses.
import type { ColumnType } from 'kysely';

/** A card as the simulated card system holds it: its status and the per-card sequence of its events. */
export interface SandboxCardsysCardRow {
  tenant_id: string;
  /** The wecard blind index of the number (the sandbox shares the deployment's keys). */
  number_bidx: string;
  number_enc: string;
  status: string;
  seq: ColumnType<bigint, bigint | number, bigint | number>;
  changed_at: Date;
}

export interface SandboxCardsysTables {
  sandbox_cardsys_cards: SandboxCardsysCardRow;
}
