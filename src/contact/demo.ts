// Demo routing: the sandbox corp's customer-service members as every given tenant's agents (sandbox mode only).
import type { AppContext } from '../app/context.ts';
import { SANDBOX_WECOM_AGENTS } from '../sandbox/wecom/index.ts';
import { configureContactAgents } from './agents.ts';

/**
 * Makes ZhangMin, LiQiang and WangFang (SANDBOX_WECOM_AGENTS) the agents of each tenant, every
 * bill kind; the supervisor WangFang ranks after the others among equally loaded agents. Refused
 * without the sandbox.
 */
export async function seedSandboxAgents(ctx: AppContext, tenantIds: readonly string[]): Promise<void> {
  if (!ctx.config.sandbox) throw new Error('sandbox agents exist only with the sandbox on');
  for (const tenantId of tenantIds) {
    await configureContactAgents(
      ctx,
      tenantId,
      SANDBOX_WECOM_AGENTS.map((a) => ({
        userId: a.userId,
        displayName: a.name,
        title: a.title,
        ...(a.title === '客服主管' ? { priority: -1 } : {}),
      })),
    );
  }
}
