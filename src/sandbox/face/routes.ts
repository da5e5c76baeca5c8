// Sandbox route for the simulated face check: POST /sandbox/api/face/{userId} → { faceToken } (mounted with the sandbox only).
import { Type } from 'typebox';
import type { ModulePlugin } from '../../app/server.ts';
import { AppError } from '../../app/errors.ts';
import { issueFaceToken } from './store.ts';
import { getUser } from '../../identity/index.ts';

/** `POST /sandbox/api/face/{userId}`: the simulated phone "looks at the camera" and gets a face token for the step-up answer. */
export const sandboxFaceRoutes: ModulePlugin = (app, ctx) => {
  if (!ctx.config.sandbox) return;
  app.post(
    '/sandbox/api/face/:userId',
    {
      schema: {
        tags: ['sandbox'],
        summary: 'Simulate a passed face check of a cardholder; answer the face step-up with the token',
        params: Type.Object({ userId: Type.String({ pattern: '^usr_[0-9a-z]{26}$' }) }),
        response: { 200: Type.Object({ faceToken: Type.String(), expiresAt: Type.String({ format: 'date-time' }) }) },
      },
    },
    async (req) => {
      const { userId } = req.params as { userId: string };
      const user = await getUser(ctx.db, userId);
      if (!user) throw new AppError('not_found', 'no such cardholder');
      const t = await issueFaceToken(ctx.db, { tenantId: user.tenantId, userId, now: ctx.clock.now() });
      return { faceToken: t.faceToken, expiresAt: t.expiresAt.toISOString() };
    },
  );
};
