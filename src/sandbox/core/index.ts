// The sandbox's simulated external core banking system: the contract routes and their fault switches.
export { sandboxCoreRoutes, SANDBOX_CORE_PREFIX } from './routes.ts';
export { CoreFaultSwitch, CORE_FAULT_MODES, MAX_FAULT_DELAY_MS, type CoreFaultMode, type CoreFaults } from './faults.ts';
