// Partner webhook endpoints per tenant: URL, event types, optional account filter, and their AES/HMAC keys (encrypted at rest, shown once on creation).
import { randomBytes } from 'node:crypto';
import type { Selectable } from 'kysely';
import type { AppContext } from '../../app/context.ts';
import { AppError, type FieldError } from '../../app/errors.ts';
import { inTx, type Db, type Tx } from '../../db/tx.ts';
import { newId } from '../../shared/ids.ts';
import type { FieldCrypto } from '../../shared/crypto.ts';
import { requireTenant } from '../../tenants/index.ts';
import type { WebhookEndpointRow } from '../notify.table.ts';
import { WEBHOOK_KEY_BYTES } from './envelope.ts';
import { TRANSACTION_EVENT_TYPES, type TransactionEventType } from './types.ts';

/** Endpoints one tenant may configure (enabled or not). */
export const WEBHOOK_MAX_ENDPOINTS_PER_TENANT = 20;
export const WEBHOOK_URL_MAX_CHARS = 2_048;
export const WEBHOOK_DESCRIPTION_MAX_CHARS = 200;
/** Ledger accounts one endpoint may be restricted to. */
export const WEBHOOK_MAX_ACCOUNT_FILTER = 100;

export interface WebhookEndpoint {
  id: string;
  tenantId: string;
  url: string;
  description: string;
  /** Types delivered; `*` means all. */
  eventTypes: (TransactionEventType | '*')[];
  /** When set, only events about these ledger accounts. */
  accountIds: string[] | null;
  createdAt: Date;
  disabledAt: Date | null;
}

export interface NewWebhookEndpoint {
  tenantId: string;
  url: string;
  description?: string;
  eventTypes: (TransactionEventType | '*')[];
  accountIds?: string[];
}

/** The endpoint's keys as handed to the partner once (base64, 32 bytes each). */
export interface WebhookSecrets {
  aesKey: string;
  hmacKey: string;
}

export function toEndpoint(r: Selectable<WebhookEndpointRow>): WebhookEndpoint {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    url: r.url,
    description: r.description,
    eventTypes: r.event_types as WebhookEndpoint['eventTypes'],
    accountIds: r.account_ids,
    createdAt: r.created_at,
    disabledAt: r.disabled_at,
  };
}

/** Plain HTTP only where the sandbox is on (tests, demos); production partners get TLS. */
function checkUrl(raw: string, allowHttp: boolean): FieldError | undefined {
  if (typeof raw !== 'string' || raw.length > WEBHOOK_URL_MAX_CHARS) return { field: 'url', message: `must be a URL of at most ${WEBHOOK_URL_MAX_CHARS} characters` };
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { field: 'url', message: 'not a valid URL' };
  }
  if (u.protocol !== 'https:' && !(allowHttp && u.protocol === 'http:')) return { field: 'url', message: allowHttp ? 'must be http or https' : 'must be https' };
  if (u.username || u.password) return { field: 'url', message: 'must not carry credentials (the signature authenticates us)' };
  if (u.hash) return { field: 'url', message: 'must not have a fragment' };
  return undefined;
}

function validate(input: NewWebhookEndpoint, allowHttp: boolean): void {
  const errors: FieldError[] = [];
  const urlError = checkUrl(input.url, allowHttp);
  if (urlError) errors.push(urlError);
  if ((input.description ?? '').length > WEBHOOK_DESCRIPTION_MAX_CHARS) errors.push({ field: 'description', message: `at most ${WEBHOOK_DESCRIPTION_MAX_CHARS} characters` });
  const types = input.eventTypes;
  if (!Array.isArray(types) || types.length === 0 || types.length > TRANSACTION_EVENT_TYPES.length + 1) {
    errors.push({ field: 'eventTypes', message: 'must name at least one event type (or "*")' });
  } else if (!types.every((t) => t === '*' || (TRANSACTION_EVENT_TYPES as readonly string[]).includes(t))) {
    errors.push({ field: 'eventTypes', message: `each must be "*" or one of ${TRANSACTION_EVENT_TYPES.join(', ')}` });
  }
  if (input.accountIds !== undefined) {
    const ids = input.accountIds;
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > WEBHOOK_MAX_ACCOUNT_FILTER || !ids.every((id) => typeof id === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(id))) {
      errors.push({ field: 'accountIds', message: `1–${WEBHOOK_MAX_ACCOUNT_FILTER} ledger account ids` });
    }
  }
  if (errors.length > 0) throw AppError.validation(errors);
}

/**
 * Adds a partner endpoint with fresh keys. The keys are returned once, to hand to the partner;
 * wecard keeps them encrypted with the field keys (`ctx.crypto`).
 */
export async function addWebhookEndpoint(ctx: AppContext, input: NewWebhookEndpoint): Promise<{ endpoint: WebhookEndpoint; secrets: WebhookSecrets }> {
  validate(input, ctx.config.sandbox);
  const secrets: WebhookSecrets = { aesKey: randomBytes(WEBHOOK_KEY_BYTES).toString('base64'), hmacKey: randomBytes(WEBHOOK_KEY_BYTES).toString('base64') };
  const now = ctx.clock.now();
  const row = await inTx(ctx.db, async (tx) => {
    await requireTenant(tx, input.tenantId);
    const n = await tx.selectFrom('notify_webhook_endpoints').select((eb) => eb.fn.countAll<string>().as('n')).where('tenant_id', '=', input.tenantId).executeTakeFirstOrThrow();
    if (Number(n.n) >= WEBHOOK_MAX_ENDPOINTS_PER_TENANT) throw new AppError('conflict', `a tenant has at most ${WEBHOOK_MAX_ENDPOINTS_PER_TENANT} webhook endpoints`);
    return tx
      .insertInto('notify_webhook_endpoints')
      .values({
        id: newId('whe'),
        tenant_id: input.tenantId,
        url: input.url,
        description: input.description ?? '',
        event_types: JSON.stringify([...new Set(input.eventTypes)]),
        account_ids: input.accountIds ? JSON.stringify([...new Set(input.accountIds)]) : null,
        aes_key_enc: ctx.crypto.encrypt(secrets.aesKey),
        hmac_key_enc: ctx.crypto.encrypt(secrets.hmacKey),
        created_at: now,
        disabled_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  });
  ctx.log.info({ tenantId: input.tenantId, endpointId: row.id, host: new URL(row.url).host }, 'webhook endpoint added');
  return { endpoint: toEndpoint(row), secrets };
}

export async function listWebhookEndpoints(db: Db, tenantId: string): Promise<WebhookEndpoint[]> {
  const rows = await db.selectFrom('notify_webhook_endpoints').selectAll().where('tenant_id', '=', tenantId).orderBy('created_at').orderBy('id').execute();
  return rows.map(toEndpoint);
}

/** Stops deliveries to the endpoint: new events skip it, pending deliveries end as dead letters. */
export async function disableWebhookEndpoint(ctx: AppContext, tenantId: string, endpointId: string): Promise<WebhookEndpoint> {
  const row = await ctx.db
    .updateTable('notify_webhook_endpoints')
    .set({ disabled_at: ctx.clock.now() })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', endpointId)
    .returningAll()
    .executeTakeFirst();
  if (!row) throw new AppError('not_found', `no webhook endpoint ${endpointId}`);
  return toEndpoint(row);
}

export interface EndpointKeys {
  aes: Buffer;
  hmac: Buffer;
}

export async function endpointWithKeys(db: Db | Tx, crypto: FieldCrypto, endpointId: string): Promise<(WebhookEndpoint & { keys: EndpointKeys }) | undefined> {
  const r = await db.selectFrom('notify_webhook_endpoints').selectAll().where('id', '=', endpointId).executeTakeFirst();
  if (!r) return undefined;
  return { ...toEndpoint(r), keys: { aes: Buffer.from(crypto.decrypt(r.aes_key_enc), 'base64'), hmac: Buffer.from(crypto.decrypt(r.hmac_key_enc), 'base64') } };
}

/** Whether an enabled endpoint wants an event of this type and account. */
export function endpointWants(e: Pick<WebhookEndpoint, 'eventTypes' | 'accountIds' | 'disabledAt'>, type: string, accountId: string | null): boolean {
  if (e.disabledAt !== null) return false;
  if (!e.eventTypes.includes('*') && !(e.eventTypes as string[]).includes(type)) return false;
  if (e.accountIds !== null && (accountId === null || !e.accountIds.includes(accountId))) return false;
  return true;
}
