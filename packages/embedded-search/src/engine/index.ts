export { IndexEngine, type Mappings } from './index-engine.js';
export { search, count, type SearchTarget } from './search.js';
