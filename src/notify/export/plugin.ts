// Plugin `dailyExport()`: registers the daily batch export job and schedules its next run.
import type { ModulePlugin } from '../../app/server.ts';
import { DAILY_EXPORT_MAX_ATTEMPTS, DAILY_EXPORT_RETRY_MS, DAILY_EXPORT_TOPIC, dailyExportJob, scheduleDailyExport } from './job.ts';
import { topupExportSource, type ListTopupsForDay } from './source.ts';

export interface DailyExportOptions {
  /** Where the day's top-ups come from; default src/topup's orders. */
  listTopupsForDay?: ListTopupsForDay;
}

export function dailyExport(opts: DailyExportOptions = {}): ModulePlugin {
  const list = opts.listTopupsForDay ?? topupExportSource;
  return async (_app, ctx) => {
    ctx.jobs.register(DAILY_EXPORT_TOPIC, (c, payload, job) => dailyExportJob(c, list, payload, job), {
      maxAttempts: DAILY_EXPORT_MAX_ATTEMPTS,
      retryDelayMs: (n) => DAILY_EXPORT_RETRY_MS * n,
    });
    await scheduleDailyExport(ctx.db, ctx.clock.now());
  };
}
