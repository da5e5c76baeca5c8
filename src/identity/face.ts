// The FaceVerifier port: checks a face-verification result token for a user (a vendor's 人脸核身 in production, the sandbox's here).
import type { Db } from '../db/tx.ts';

export interface FaceVerifier {
  /** True when `faceToken` is a fresh, unused pass of a face check of this user; single use. */
  verify(db: Db, check: { tenantId: string; userId: string; faceToken: string; now: Date }): Promise<boolean>;
}
