// Plugin `interchange()`: the card status feed, partner webhooks and the daily export in one (what modules.ts mounts).
import type { ModulePlugin } from '../app/server.ts';
import { cardStatusFeed } from './cardsys/plugin.ts';
import type { CardStatusFeedOptions } from './cardsys/feed.ts';
import { partnerWebhooks } from './webhooks/plugin.ts';
import { dailyExport, type DailyExportOptions } from './export/plugin.ts';

export interface InterchangeOptions {
  cardStatusFeed?: CardStatusFeedOptions;
  dailyExport?: DailyExportOptions;
}

export function interchange(opts: InterchangeOptions = {}): ModulePlugin {
  const parts = [cardStatusFeed(opts.cardStatusFeed), partnerWebhooks(), dailyExport(opts.dailyExport)];
  return async (app, ctx) => {
    for (const p of parts) await p(app, ctx);
  };
}
