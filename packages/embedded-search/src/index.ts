export { startSearchNode, type SearchNode, type SearchNodeOptions } from './server.js';
export { EsError } from './errors.js';
