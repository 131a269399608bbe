export { IndexEngine, type Mappings } from './index-engine.js';
export { search, count, type SearchTarget, type SearchOptions } from './search.js';
export { fieldCaps } from './field-caps.js';
