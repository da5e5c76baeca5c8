// The WeCom module's public face: customer-contact API calls, the callback routes and their event types.
import type { Db, Tx } from '../../db/tx.ts';
import { recentEvents, type StoredWecomEvent } from './store.ts';

export { addContactWay, deleteContactWay, remarkExternalContact, sendWelcomeMessage, type ContactWay } from './client.ts';
export { newContactWayState } from './state.ts';
export { wecomCallbacks, type WecomCallbackOptions } from './routes.ts';
export type { AddExternalContactEvent, WecomEvent } from './events.ts';
export {
  STATE_MAX_CHARS,
  REMARK_MAX_CHARS,
  DESCRIPTION_MAX_CHARS,
  WELCOME_TEXT_MAX_BYTES,
  CALLBACK_TIMESTAMP_WINDOW_S,
  stateProblems,
} from './policy.ts';
export { WECOM_EVENT_RETENTION_MS } from './jobs.ts';
export type { StoredWecomEvent };

/** Most this call returns. */
export const RECENT_EVENTS_MAX = 100;

/** The tenant's most recently received WeCom events (the default handlers' record), newest first. */
export function recentWecomEvents(db: Db | Tx, tenantId: string, limit = 20): Promise<StoredWecomEvent[]> {
  return recentEvents(db, tenantId, Math.min(Math.max(limit, 1), RECENT_EVENTS_MAX));
}
