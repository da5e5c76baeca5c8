// The sandbox's simulated face check: issues single-use face tokens for a user and redeems them (the FaceVerifier's sandbox side).
import { createHash, randomBytes } from 'node:crypto';
import type { Db, Tx } from '../../db/tx.ts';
import type { FaceVerifier } from '../../identity/face.ts';

/** A face token is redeemable this long after the simulated check. */
export const FACE_TOKEN_TTL_MS = 5 * 60 * 1000;
const FACE_TOKEN_BYTES = 32;

const hashOf = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

/** Records a passed simulated face check of `userId` and returns its token (stored hashed). */
export async function issueFaceToken(db: Db | Tx, c: { tenantId: string; userId: string; now: Date }): Promise<{ faceToken: string; expiresAt: Date }> {
  const faceToken = `face_${randomBytes(FACE_TOKEN_BYTES).toString('base64url')}`;
  const expiresAt = new Date(c.now.getTime() + FACE_TOKEN_TTL_MS);
  await db
    .insertInto('sandbox_face_tokens')
    .values({ token_hash: hashOf(faceToken), tenant_id: c.tenantId, user_id: c.userId, created_at: c.now, expires_at: expiresAt, used_at: null })
    .execute();
  return { faceToken, expiresAt };
}

/** The sandbox FaceVerifier: a token passes once, for the user and tenant it was issued to, before it expires. */
export const sandboxFaceVerifier: FaceVerifier = {
  async verify(db, check) {
    if (typeof check.faceToken !== 'string' || check.faceToken.length > 200) return false;
    const used = await db
      .updateTable('sandbox_face_tokens')
      .set({ used_at: check.now })
      .where('token_hash', '=', hashOf(check.faceToken))
      .where('tenant_id', '=', check.tenantId)
      .where('user_id', '=', check.userId)
      .where('used_at', 'is', null)
      .where('expires_at', '>', check.now)
      .returning('token_hash')
      .executeTakeFirst();
    return used !== undefined;
  },
};
