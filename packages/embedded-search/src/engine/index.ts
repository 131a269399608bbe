export { IndexEngine, SUPPORTED_TYPES, type Mappings, type FieldMapping } from './index-engine.js';
export { search, count, filterSource, type SearchTarget, type SearchOptions } from './search.js';
export { fieldCaps } from './field-caps.js';
export { resolveDate } from './date-math.js';
export { parseDate } from './values.js';
