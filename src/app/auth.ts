// Who is calling: the principal types route hooks attach to a request, shared by every module's routes.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from './errors.ts';

/** A cardholder's session, resolved from `Authorization: Bearer <session token>` by the identity module's hook. */
export interface CardholderPrincipal {
  /** The person across the tenant's OA, mini-program and H5 pages (openids linked by unionid). */
  userId: string;
  tenantId: string;
  sessionId: string;
  /** The client's X-Device-Id, activated for this user. */
  deviceId: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    cardholder?: CardholderPrincipal;
  }
}

/** A preHandler that authenticates the request (sets `request.cardholder`) or throws `unauthenticated`. */
export type Authenticate = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** The authenticated cardholder of a request; routes behind an Authenticate hook call this. */
export function cardholderOf(request: FastifyRequest): CardholderPrincipal {
  if (!request.cardholder) throw new AppError('unauthenticated');
  return request.cardholder;
}
