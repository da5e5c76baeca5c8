// WeCom customer-contact API calls (联系我 contact ways, remark, welcome message) through the shared access_token.
import type { AppContext } from '../../app/context.ts';
import { AppError } from '../../app/errors.ts';
import { callWechatApi, type WechatApp } from '../api/index.ts';
import { contactWayProblems, remarkProblems, welcomeProblems } from './policy.ts';

export interface ContactWay {
  configId: string;
  /** The QR code image URL WeCom hosts (scene 2); the customer scans it to add the member. */
  qrCode: string;
}

const wecomApp = (tenantId: string): WechatApp => ({ tenantId, kind: 'wecom' });

function assertValid(errors: { field: string; message: string }[]): void {
  if (errors.length > 0) throw AppError.validation(errors);
}

/**
 * Creates a single-member QR-code contact way (`type 1, scene 2, skip_verify`) whose add event will
 * carry `state`. Never call inside a database transaction: record intent, commit, call, record the result.
 */
export async function addContactWay(ctx: AppContext, tenantId: string, input: { agentUserId: string; state: string; remark?: string }): Promise<ContactWay> {
  assertValid(contactWayProblems(input));
  const res = await callWechatApi<{ config_id?: unknown; qr_code?: unknown }>(ctx, wecomApp(tenantId), {
    method: 'POST',
    path: '/cgi-bin/externalcontact/add_contact_way',
    body: {
      type: 1,
      scene: 2,
      ...(input.remark !== undefined ? { remark: input.remark } : {}),
      skip_verify: true,
      state: input.state,
      user: [input.agentUserId],
    },
  });
  if (typeof res.config_id !== 'string' || typeof res.qr_code !== 'string' || res.config_id.length === 0) {
    throw new Error('add_contact_way answered without config_id or qr_code');
  }
  return { configId: res.config_id, qrCode: res.qr_code };
}

/** Deletes a contact way: its QR code stops working. */
export async function deleteContactWay(ctx: AppContext, tenantId: string, configId: string): Promise<void> {
  if (typeof configId !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(configId)) throw AppError.validation([{ field: 'configId', message: 'is malformed' }]);
  await callWechatApi(ctx, wecomApp(tenantId), { method: 'POST', path: '/cgi-bin/externalcontact/del_contact_way', body: { config_id: configId } });
}

/**
 * Sets the member's remark and/or description of a customer. Both are shown on the member's phone:
 * pass masked values only (an order number, never a full card number).
 */
export async function remarkExternalContact(
  ctx: AppContext,
  tenantId: string,
  input: { userId: string; externalUserId: string; remark?: string; description?: string },
): Promise<void> {
  assertValid(remarkProblems(input));
  await callWechatApi(ctx, wecomApp(tenantId), {
    method: 'POST',
    path: '/cgi-bin/externalcontact/remark',
    body: {
      userid: input.userId,
      external_userid: input.externalUserId,
      ...(input.remark !== undefined ? { remark: input.remark } : {}),
      ...(input.description !== undefined ? { description: input.description } : {}),
    },
  });
}

/** Sends the new customer's welcome text with the event's welcome code: once, within 20 s of the event. */
export async function sendWelcomeMessage(ctx: AppContext, tenantId: string, input: { welcomeCode: string; text: string }): Promise<void> {
  assertValid(welcomeProblems(input));
  await callWechatApi(ctx, wecomApp(tenantId), {
    method: 'POST',
    path: '/cgi-bin/externalcontact/send_welcome_msg',
    body: { welcome_code: input.welcomeCode, text: { content: input.text } },
  });
}
