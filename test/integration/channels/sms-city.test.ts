// Issue 5 items 6 (SMS banking) and 7 (city services), on one platform start through the sandbox (SMS provider, face check, social-security provider tenant). PostgreSQL only in CI (on PGlite when no TEST_DATABASE_URL): oa.both.test.ts covers the channels tables on both back ends.
import { afterAll, beforeAll } from 'vitest';
import { startChannelsWorld, type ChannelsWorld } from './world.ts';
import { smsSuite } from './sms.suite.ts';
import { citySuite } from './city.suite.ts';

let w: ChannelsWorld;

beforeAll(async () => {
  w = await startChannelsWorld();
}, 120_000);
afterAll(async () => {
  await w?.close();
});

smsSuite(() => w);
citySuite(() => w);
