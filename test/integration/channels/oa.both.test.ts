// Issue 5 items 5 (OA chat, with the acceptance test) and balance-change alerts, on one platform start: the sandbox pushes over the real encrypted protocol.
import { afterAll, beforeAll } from 'vitest';
import { startChannelsWorld, type ChannelsWorld } from './world.ts';
import { chatSuite } from './chat.suite.ts';
import { alertsSuite } from './alerts.suite.ts';

let w: ChannelsWorld;

beforeAll(async () => {
  w = await startChannelsWorld();
}, 120_000);
afterAll(async () => {
  await w?.close();
});

chatSuite(() => w);
alertsSuite(() => w);
