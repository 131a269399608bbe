import type { AnyRule } from '../types.js';
import { authFailureBurstByIp, authFailureBurstByLogin, authFailureBurstByNetwork, authFailureBurstBySubject } from './auth-failure-burst.js';
import { deprovisionedSubjectActivity } from './deprovisioned-subject-activity.js';
import { expiredTokenReplay } from './expired-token-replay.js';
import { impossibleTravel } from './impossible-travel.js';
import { issuanceSpikeByClient, issuanceSpikeBySubject } from './issuance-spike.js';
import { longLivedToken } from './long-lived-token.js';
import { newDeviceForSubject } from './new-device-for-subject.js';
import { insufficientScopeBurst, privilegeChangeInSession } from './privilege-change-in-session.js';
import { refreshTokenReuse } from './refresh-token-reuse.js';
import { revokedTokenUse } from './revoked-token-use.js';
import { tokenMultiOrigin } from './token-multi-origin.js';
import { tokenTampering } from './token-tampering.js';
import { unexpectedIssuer } from './unexpected-issuer.js';
import { tokenGuessing } from './token-guessing.js';
import { responseVolume } from './response-volume.js';
import { resourceEnumeration } from './resource-enumeration.js';
import { unusualHour } from './unusual-hour.js';
import { sessionActivityAfterEnd } from './session-activity-after-end.js';
import { sessionMultiCountry } from './session-multi-country.js';

/** Every rule (and keying), in the order they run on an event. */
export const RULES: readonly AnyRule[] = [
  revokedTokenUse,
  refreshTokenReuse,
  tokenMultiOrigin,
  impossibleTravel,
  authFailureBurstBySubject,
  authFailureBurstByIp,
  authFailureBurstByLogin,
  authFailureBurstByNetwork,
  tokenTampering,
  expiredTokenReplay,
  privilegeChangeInSession,
  insufficientScopeBurst,
  longLivedToken,
  issuanceSpikeBySubject,
  issuanceSpikeByClient,
  deprovisionedSubjectActivity,
  newDeviceForSubject,
  unexpectedIssuer,
  tokenGuessing,
  responseVolume,
  resourceEnumeration,
  unusualHour,
  sessionActivityAfterEnd,
  sessionMultiCountry,
];
