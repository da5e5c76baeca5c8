// The sandbox's simulated card system: status events and snapshots on the MQTT broker, sealed as the real one does.
export { sandboxCardsysRoutes, sandboxCardsys, cardsysSimulatorOf, type SandboxCardsysOptions } from './routes.ts';
export { CardsysSimulator, SANDBOX_CARDSYS_EVENT_MEMO, type Delivery } from './simulator.ts';
export { cardsysStatusOf, SANDBOX_CARDSYS_MAX_CARDS } from './store.ts';
