/**
 * What other packages use of `audit replay` (the console's Replay button): the selection, the plan,
 * the production-target safety, the replay loop and its report, as the command uses them.
 */
export { selectExchanges, describeSelection, EXCHANGE_KINDS, EXCHANGE_ACTIONS, type Selection, type Selector } from './select.js';
export { planRequest, NotAnExchange, REPLAY_HEADER, type PlannedRequest, type Flag } from './plan.js';
export { replay, outgoing, type ReplayRow, type ReplayOptions, type Result as ReplayResult } from './replay.js';
export { summarise, jsonReport, type ReportContext, type Summary as ReplaySummary } from './report.js';
export { productionMatch, productionUpstreams, type ProductionUpstream } from './safety.js';
export { describeDifference } from './json-diff.js';
