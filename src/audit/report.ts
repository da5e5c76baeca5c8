// The verification result as the plain text `npm run audit:verify` prints: a verdict, the problems, and the heads to anchor.
import type { VerifyResult } from './verify.ts';

export function formatVerifyReport(r: VerifyResult): string {
  const lines: string[] = [];
  if (r.ok) {
    lines.push(`audit chain sound: ${r.checked} sealed rows checked through seq ${r.sealedThrough}; ${r.pending} rows await sealing`);
  } else {
    lines.push(
      `audit chain TAMPERED: ${r.problems.length}${r.truncated ? '+' : ''} problem(s) in ${r.checked} sealed rows checked through seq ${r.sealedThrough}` +
        (r.truncated ? ' (stopped at the problem limit)' : ''),
    );
    for (const p of r.problems) lines.push(`  seq ${p.seq}  ${p.kind}  ${p.problem}`);
  }
  if (r.heads.length > 0) {
    lines.push('chain heads (copy them somewhere safe; pass one back with --anchor tenant:seq:hash):');
    for (const h of r.heads) lines.push(`  ${h.tenantId}:${h.seq}:${h.hash}`);
  }
  return `${lines.join('\n')}\n`;
}
