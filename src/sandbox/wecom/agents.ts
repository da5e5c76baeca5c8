// The sandbox corp's customer-service members: the userids every sandbox tenant's WeCom knows.
export interface SandboxWecomAgent {
  /** The member's userid, as add_contact_way's `user` and the event's `UserID` carry it. */
  userId: string;
  /** Fictitious staff name shown on the QR page and the simulated phone. */
  name: string;
  title: string;
}

/** The same members in every sandbox tenant's corp, so tests and demo flows can name them. */
export const SANDBOX_WECOM_AGENTS: readonly SandboxWecomAgent[] = Object.freeze([
  { userId: 'ZhangMin', name: '张敏', title: '客服专员' },
  { userId: 'LiQiang', name: '李强', title: '客服专员' },
  { userId: 'WangFang', name: '王芳', title: '客服主管' },
]);

export function findSandboxAgent(userId: string): SandboxWecomAgent | undefined {
  return SANDBOX_WECOM_AGENTS.find((a) => a.userId === userId);
}
