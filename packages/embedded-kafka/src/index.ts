export { startBroker, type Broker, type BrokerOptions } from './broker.js';
export type { FsyncPolicy } from './storage/partition-log.js';
