// The sandbox SMS outbox: texts the server would have sent through a gateway, phone/text/code encrypted, found by the phone's blind index.
import type { AppContext } from '../../app/context.ts';
import { AppError } from '../../app/errors.ts';
import { inTx } from '../../db/tx.ts';
import { maskPhone } from '../../shared/mask.ts';
import { newId } from '../../shared/ids.ts';
import { normaliseChinaMobile } from '../../shared/sensitive.ts';
import { insertSms, listSms } from './store.ts';
import { PHONE_BLIND_INDEX_DOMAIN } from './users.ts';

/** A long SMS is split by carriers at 67 characters a part; gateways refuse more than about 500 in all. */
export const SMS_TEXT_MAX_CHARS = 500;
export const SMS_CODE_MAX_CHARS = 16;

export interface SandboxSms {
  phone: string;
  text: string;
  code?: string;
}

function phoneOf(raw: unknown): string {
  const p = typeof raw === 'string' ? normaliseChinaMobile(raw) : undefined;
  if (!p) throw AppError.validation([{ field: 'phone', message: 'a mainland mobile number has 11 digits and starts with 13–19' }]);
  return p;
}

/** Puts a text in the outbox (GET /sandbox/api/sms). */
export async function sandboxSendSms(ctx: AppContext, sms: SandboxSms): Promise<void> {
  const phone = phoneOf(sms.phone);
  if (typeof sms.text !== 'string' || sms.text.length === 0 || [...sms.text].length > SMS_TEXT_MAX_CHARS) {
    throw AppError.validation([{ field: 'text', message: `must be 1–${SMS_TEXT_MAX_CHARS} characters` }]);
  }
  if (sms.code !== undefined && (typeof sms.code !== 'string' || sms.code.length === 0 || sms.code.length > SMS_CODE_MAX_CHARS)) {
    throw AppError.validation([{ field: 'code', message: `must be 1–${SMS_CODE_MAX_CHARS} characters` }]);
  }
  await inTx(ctx.db, (tx) =>
    insertSms(tx, {
      id: newId('sms'),
      phone_enc: ctx.crypto.encrypt(phone),
      phone_bidx: ctx.crypto.blindIndex(PHONE_BLIND_INDEX_DOMAIN, phone),
      phone_masked: maskPhone(phone),
      text_enc: ctx.crypto.encrypt(sms.text),
      code_enc: sms.code === undefined ? null : ctx.crypto.encrypt(sms.code),
      sent_at: ctx.clock.now(),
    }),
  );
}

/** The texts sent to a phone, newest first. */
export async function sandboxSmsFor(ctx: AppContext, rawPhone: string, limit: number): Promise<{ phone: string; text: string; code: string | null; sentAt: Date }[]> {
  const phone = phoneOf(rawPhone);
  const rows = await listSms(ctx.db, { phoneBidx: ctx.crypto.blindIndex(PHONE_BLIND_INDEX_DOMAIN, phone), limit });
  return rows.map((r) => ({ phone: ctx.crypto.decrypt(r.phone_enc), text: ctx.crypto.decrypt(r.text_enc), code: r.code_enc === null ? null : ctx.crypto.decrypt(r.code_enc), sentAt: r.sent_at }));
}
