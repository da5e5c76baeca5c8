// Top-up rules the page shows before ordering: the fee the tenant's rule gives (the server's order answer is what counts) and the sandbox cashier hand-off. Pure: no DOM (the server's tests import it).

/** A method's fee rule as GET /api/v1/h5/config gives it (the tenant policy's). */
export type FeeRule = { kind: 'free' } | { kind: 'rate'; basisPoints: number; minFen: number; maxFen: number | null };

const BASIS_POINTS_PER_UNIT = 10_000n;

/** The server's fee formula (src/tenants/policy.ts topupFeeFen): amount × bp / 10 000 rounded half up to the fen, held within min/max. */
export function estimateFeeFen(fee: FeeRule, amountFen: number): number {
  if (fee.kind === 'free') return 0;
  let f = (BigInt(amountFen) * BigInt(fee.basisPoints) * 2n + BASIS_POINTS_PER_UNIT) / (2n * BASIS_POINTS_PER_UNIT);
  if (f < BigInt(fee.minFen)) f = BigInt(fee.minFen);
  if (fee.maxFen !== null && f > BigInt(fee.maxFen)) f = BigInt(fee.maxFen);
  return Number(f);
}

/** `prepay_id=wx…` (the package of wx.requestPayment) → the prepay id. */
export function prepayIdOf(pkg: string): string | null {
  const m = /^prepay_id=([A-Za-z0-9_-]{1,64})$/.exec(pkg);
  return m ? m[1]! : null;
}

/** The sandbox's simulated WeChat Pay cashier for an order, returning to `back` (a path in this app) when done. */
export function sandboxCashierUrl(prepayId: string, back: string): string {
  return `/sandbox/cashier?${new URLSearchParams({ prepayId, return: back }).toString()}`;
}
