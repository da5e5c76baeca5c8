// The cardholder authentication hook: Bearer token → live session → request.cardholder; the device must be activated.
import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../app/context.ts';
import type { Authenticate, CardholderPrincipal } from '../app/auth.ts';
import { AppError } from '../app/errors.ts';
import { getTenant } from '../tenants/index.ts';
import { DEVICE_ID_PATTERN, SESSION_TOUCH_INTERVAL_MS, isDeviceTrusted, sessionExpiry } from './policy.ts';
import { SESSION_TOKEN_PATTERN, hashSessionToken } from './sessions.ts';

export interface AuthenticateOptions {
  /**
   * Let an unactivated device through (the activation route itself and GET /api/v1/me, so the
   * client can learn what to do). Everything else answers device_activation_required.
   */
  allowUnactivatedDevice?: boolean;
}

/** The `X-Device-Id` header when present; a malformed one is a validation error naming the header. */
export function deviceIdHeader(request: FastifyRequest): string | undefined {
  const raw = request.headers['x-device-id'];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !DEVICE_ID_PATTERN.test(raw)) {
    throw AppError.validation([{ field: 'headers.x-device-id', message: 'must be 16–64 characters of A–Z, a–z, 0–9, _ and -' }]);
  }
  return raw;
}

function bearerToken(request: FastifyRequest): string {
  const h = request.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer ([^\s]+)$/i.exec(h) : null;
  if (!m || !SESSION_TOKEN_PATTERN.test(m[1]!)) throw new AppError('unauthenticated', 'send Authorization: Bearer <session token>');
  return m[1]!;
}

/**
 * `Authorization: Bearer <session token>` → the session (not revoked, not past its idle or
 * absolute expiry) → `request.cardholder`. A request naming another device in X-Device-Id than
 * the session's is refused (a token copied to another device). The session's expiry slides with
 * use, written at most once a minute.
 */
export function authenticateCardholder(ctx: AppContext, opts: AuthenticateOptions = {}): Authenticate {
  return async (request) => {
    const token = bearerToken(request);
    const now = ctx.clock.now();
    const row = await ctx.db
      .selectFrom('identity_sessions as s')
      .innerJoin('identity_users as u', 'u.id', 's.user_id')
      .leftJoin('identity_devices as d', (j) => j.onRef('d.user_id', '=', 's.user_id').onRef('d.device_id', '=', 's.device_id'))
      .select([
        's.id',
        's.tenant_id',
        's.user_id',
        's.device_id',
        's.last_seen_at',
        's.expires_at',
        's.absolute_expires_at',
        's.revoked_at',
        'u.phone_bidx',
        'u.phone_version',
        'd.activated_at',
        'd.activated_phone_version',
      ])
      .where('s.token_hash', '=', hashSessionToken(token))
      .executeTakeFirst();
    if (!row || row.revoked_at !== null || row.expires_at.getTime() <= now.getTime() || row.absolute_expires_at.getTime() <= now.getTime()) {
      throw new AppError('unauthenticated', 'the session has ended; sign in again');
    }
    const headerDevice = deviceIdHeader(request);
    if (headerDevice !== undefined && headerDevice !== row.device_id) {
      throw new AppError('unauthenticated', 'the session belongs to another device; sign in on this one');
    }

    const principal: CardholderPrincipal = { userId: row.user_id, tenantId: row.tenant_id, sessionId: row.id, deviceId: row.device_id };
    if (!opts.allowUnactivatedDevice) {
      const device = { activatedAt: row.activated_at ?? null, activatedPhoneVersion: row.activated_phone_version ?? null };
      const user = { hasPhone: row.phone_bidx !== null, phoneVersion: row.phone_version };
      // The common case (an activated device) needs no tenant read; only an unactivated one asks the policy.
      if (!isDeviceTrusted({ device, user, newDeviceActivation: 'sms_otp' })) {
        const tenant = await getTenant(ctx.db, row.tenant_id);
        if (!tenant || !isDeviceTrusted({ device, user, newDeviceActivation: tenant.policy.verification.newDeviceActivation })) {
          throw new AppError('device_activation_required', 'this device is new for this account: activate it with the SMS code first', {
            deviceId: row.device_id,
          });
        }
      }
    }

    if (now.getTime() - row.last_seen_at.getTime() >= SESSION_TOUCH_INTERVAL_MS) {
      await ctx.db
        .updateTable('identity_sessions')
        .set({ last_seen_at: now, expires_at: sessionExpiry(now, row.absolute_expires_at) })
        .where('id', '=', row.id)
        .execute();
    }
    request.cardholder = principal;
  };
}
