// The identity module's outbound ports per context: the SMS sender and the face verifier (set by identityRoutes, defaults from config).
import type { AppContext } from '../app/context.ts';
import { defaultSmsSender, type SmsSender } from './sms.ts';
import type { FaceVerifier } from './face.ts';
import { sandboxFaceVerifier } from '../sandbox/face/index.ts';

export interface IdentityPorts {
  sms: SmsSender;
  /** Undefined when no face verification is available: face step-ups fall back to an SMS code. */
  face: FaceVerifier | undefined;
}

// Keyed by context, not a module singleton: each server (and each test) has its own ports.
const byContext = new WeakMap<AppContext, IdentityPorts>();

/** Called by identityRoutes; a missing port gets the configuration's default. */
export function setIdentityPorts(ctx: AppContext, ports: Partial<IdentityPorts>): IdentityPorts {
  const resolved: IdentityPorts = {
    sms: ports.sms ?? defaultSmsSender(ctx),
    face: 'face' in ports ? ports.face : ctx.config.sandbox ? sandboxFaceVerifier : undefined,
  };
  byContext.set(ctx, resolved);
  return resolved;
}

/** The ports for this context (defaults when identityRoutes was not mounted, e.g. a job runner). */
export function identityPorts(ctx: AppContext): IdentityPorts {
  return byContext.get(ctx) ?? setIdentityPorts(ctx, {});
}
