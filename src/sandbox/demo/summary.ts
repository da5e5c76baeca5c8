// The demo sheet (GET /sandbox/api/demo): demo tenants and cardholders with their clear, fictitious numbers.
import type { AppContext } from '../../app/context.ts';
import { listTenants } from '../../tenants/index.ts';
import { listCardsOfCustomer, listCustomers, revealCardNumber, revealCustomer, type CardKind, type CardStatus } from '../../core/index.ts';
import type { IdType } from '../../shared/id-document.ts';
import { DEMO_TENANTS, demoCardholders } from './spec.ts';

export interface DemoSummary {
  tenants: { id: string; name: string; kind: 'bank' | 'citizen_card' | 'social_security'; preset: string }[];
  cardholders: {
    tenantId: string;
    name: string;
    idType: IdType;
    idNumber: string;
    phone: string;
    /** As seeded: the demo sheet is the only place it is shown; the database holds only its hash. */
    paymentPassword: string;
    cards: { number: string; kind: CardKind; currency: string; status: CardStatus }[];
  }[];
}

/**
 * Reads the demo data back from the database (statuses as they are now, e.g. a card reported lost
 * in the sandbox shows `lost`). Clear numbers are intended here: fictitious data, sandbox only.
 * Callers must never log the answer.
 */
export async function demoSummary(ctx: AppContext): Promise<DemoSummary> {
  const specs = demoCardholders();
  const demoIds = new Set(DEMO_TENANTS.map((t) => t.id));
  const tenants = await listTenants(ctx.db);
  const cardholders: (DemoSummary['cardholders'][number] & { order: number })[] = [];
  for (const t of tenants.filter((x) => demoIds.has(x.id))) {
    for (const c of await listCustomers(ctx.db, t.id)) {
      const who = await revealCustomer(ctx.db, ctx.crypto, c.id);
      if (!who) continue;
      const order = specs.findIndex((s) => s.tenantId === t.id && s.idNumber === who.idNumber);
      // Only the seeded cardholders: a customer created later in the sandbox has no demo password to show.
      if (order < 0) continue;
      const cards = [];
      for (const card of await listCardsOfCustomer(ctx.db, c.id)) {
        const number = await revealCardNumber(ctx.db, ctx.crypto, card.id);
        if (number) cards.push({ number, kind: card.kind, currency: card.currency, status: card.status });
      }
      cards.sort((a, b) => specs[order]!.cardNumbers.indexOf(a.number) - specs[order]!.cardNumbers.indexOf(b.number));
      cardholders.push({ order, tenantId: t.id, name: who.name, idType: who.idType, idNumber: who.idNumber, phone: who.phone, paymentPassword: specs[order]!.paymentPassword, cards });
    }
  }
  cardholders.sort((a, b) => a.order - b.order);
  return {
    tenants: tenants.map((t) => ({ id: t.id, name: t.name, kind: t.kind, preset: t.preset })),
    cardholders: cardholders.map(({ order: _o, ...h }) => h),
  };
}
