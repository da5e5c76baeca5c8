// A stand-in for the accounts module's balance route (a later issue), built only from identity's exported functions, so tests reach them over HTTP.
import type { ModulePlugin } from '../../../src/app/server.ts';
import { cardholderOf } from '../../../src/app/auth.ts';
import { getBalance } from '../../../src/ledger/index.ts';
import { assertCardUsable, authenticateCardholder, requireOwnCard, requireStepUp, type CardUsePurpose } from '../../../src/identity/index.ts';

/** `GET /test/cards/:cardId/balance?purpose=balance|topup`: own card → usable for the purpose → step-up by amount → the balance. */
export const balanceProbe: ModulePlugin = (app, ctx) => {
  const authenticate = authenticateCardholder(ctx);
  app.get('/test/cards/:cardId/balance', { preHandler: authenticate }, async (req) => {
    const p = cardholderOf(req);
    const { cardId } = req.params as { cardId: string };
    const purpose = ((req.query as { purpose?: string }).purpose ?? 'balance') as CardUsePurpose;
    const card = await requireOwnCard(ctx.db, p, cardId);
    const core = await assertCardUsable(ctx, card, { purpose });
    const balance = await getBalance(ctx.db, core.ledgerAccountId);
    await requireStepUp(ctx, p, { purpose: 'balance.read', card, amountFen: balance.postedFen, meta: { ip: req.ip, requestId: req.id, deviceId: p.deviceId } });
    return { cardId, availableFen: balance.availableFen.toString(), currency: balance.currency };
  });
};
