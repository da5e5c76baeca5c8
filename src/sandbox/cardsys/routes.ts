// Sandbox HTTP routes of the simulated card system: change a card's status (published to the broker), republish an event, publish a snapshot.
import { Type } from 'typebox';
import type { ModulePlugin } from '../../app/server.ts';
import type { AppContext } from '../../app/context.ts';
import { AppError } from '../../app/errors.ts';
import { CardNumber } from '../../shared/sensitive.ts';
import { TENANT_ID_PATTERN, requireTenant } from '../../tenants/index.ts';
import { CARDSYS_SNAPSHOT_PART_MAX, CARDSYS_STATUSES, type CardsysStatus } from '../../notify/index.ts';
import { CardsysSimulator, type Delivery } from './simulator.ts';

export interface SandboxCardsysOptions {
  /** Broker URL; default ctx.config.mqttUrl. */
  url?: string;
  /** Topic root; default the feed's (`cardsys/v1`). Tests pass a root of their own. */
  topicRoot?: string;
}

const TenantId = Type.String({ pattern: TENANT_ID_PATTERN.source, minLength: 2, maxLength: 40 });
const EventBody = Type.Object(
  {
    tenantId: TenantId,
    cardNumber: Type.String({ minLength: 8, maxLength: 40 }),
    status: Type.Union(CARDSYS_STATUSES.map((s) => Type.Literal(s))),
    changedAt: Type.Optional(Type.String({ format: 'date-time', maxLength: 40 })),
    delivery: Type.Optional(Type.Union([Type.Literal('once'), Type.Literal('twice'), Type.Literal('none')], { description: '`none` loses the message (a broker outage); `twice` duplicates it' })),
  },
  { additionalProperties: false },
);
const EventAnswer = Type.Object({ eventId: Type.String(), seq: Type.String(), changedAt: Type.String(), published: Type.Integer() });
const SnapshotBody = Type.Object(
  { tenantId: TenantId, partSize: Type.Optional(Type.Integer({ minimum: 1, maximum: CARDSYS_SNAPSHOT_PART_MAX })) },
  { additionalProperties: false },
);
const SnapshotAnswer = Type.Object({ snapshotId: Type.String(), parts: Type.Integer(), cards: Type.Integer() });

const simulators = new WeakMap<AppContext, CardsysSimulator>();

/** The running simulator of a sandbox context (tests wait on `ready()` before wecard asks for a sync). */
export function cardsysSimulatorOf(ctx: AppContext): CardsysSimulator | undefined {
  return simulators.get(ctx);
}

/**
 * The sandbox card system under `/sandbox/api/cardsys`. Mounted only with the sandbox on; without a
 * broker its routes answer `not_ready`.
 */
export function sandboxCardsys(opts: SandboxCardsysOptions = {}): ModulePlugin {
  return async (app, ctx) => {
    if (!ctx.config.sandbox) return;
    const url = opts.url ?? ctx.config.mqttUrl;
    const sim = url ? new CardsysSimulator(ctx, url, opts.topicRoot) : undefined;
    if (sim) {
      simulators.set(ctx, sim);
      sim.start();
      app.addHook('onClose', async () => {
        await sim.stop();
        simulators.delete(ctx);
      });
    }
    const need = (): CardsysSimulator => {
      if (!sim) throw new AppError('not_ready', 'the sandbox card system needs MQTT_URL');
      return sim;
    };

    app.post(
      '/sandbox/api/cardsys/events',
      {
        schema: {
          tags: ['sandbox'],
          summary: "Changes a card's status at the simulated card system, which publishes the SM4-sealed event to the broker",
          body: EventBody,
          response: { 200: EventAnswer },
        },
      },
      async (req) => {
        const b = req.body as { tenantId: string; cardNumber: string; status: CardsysStatus; changedAt?: string; delivery?: Delivery };
        await requireTenant(ctx.db, b.tenantId);
        const number = CardNumber.parse(b.cardNumber);
        return need().changeStatus({
          tenantId: b.tenantId,
          cardNumber: number.reveal(),
          status: b.status,
          changedAt: b.changedAt ? new Date(b.changedAt) : ctx.clock.now(),
          delivery: b.delivery ?? 'once',
        });
      },
    );

    app.post(
      '/sandbox/api/cardsys/events/:eventId/republish',
      {
        schema: {
          tags: ['sandbox'],
          summary: 'Publishes an earlier event again as it was (late or duplicate delivery)',
          params: Type.Object({ eventId: Type.String({ pattern: '^[A-Za-z0-9._:-]{1,64}$' }) }),
          response: { 200: Type.Object({ republished: Type.Boolean() }) },
        },
      },
      async (req) => {
        await need().republish((req.params as { eventId: string }).eventId);
        return { republished: true };
      },
    );

    app.post(
      '/sandbox/api/cardsys/snapshots',
      {
        schema: {
          tags: ['sandbox'],
          summary: "Publishes a full snapshot of the tenant's cards, unasked (the card system's own schedule)",
          body: SnapshotBody,
          response: { 200: SnapshotAnswer },
        },
      },
      async (req) => {
        const b = req.body as { tenantId: string; partSize?: number };
        await requireTenant(ctx.db, b.tenantId);
        return need().publishSnapshot(b.tenantId, { partSize: b.partSize, now: ctx.clock.now() });
      },
    );
  };
}

/** The sandbox card system with the deployment's broker and the default topic root (what modules.ts mounts). */
export const sandboxCardsysRoutes: ModulePlugin = sandboxCardsys();
