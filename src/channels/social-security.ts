// The SocialSecurity port: a provider tenant's social-security (社保) and housing-fund (公积金) accounts of a person, for the city-services view.
import type { AppContext } from '../app/context.ts';

export type SocialAccountKind = 'pension' | 'medical' | 'housing_fund';

export interface SocialSecurityAccount {
  kind: SocialAccountKind;
  /** The provider's account number, masked (never whole). */
  accountMasked: string;
  balanceFen: bigint;
  /** The monthly contribution. */
  monthlyFen: bigint;
  /** Last month paid, `YYYY-MM`. */
  paidThrough: string;
  status: 'active' | 'suspended' | 'closed';
}

export interface SocialSecurityProvider {
  /** The person's accounts at the provider tenant (empty when it holds none); throws when the provider cannot be reached. */
  accountsOf(ctx: AppContext, q: { providerTenantId: string; idType: string; idNumber: string }): Promise<SocialSecurityAccount[]>;
}
