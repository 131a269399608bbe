export { localStorage, StorageError, type ArchiveStorage } from './storage.js';
export { generateSigningKey, loadSigner, loadJwks, verifyJws, type Signer } from './keys.js';
export { seal, readHead, recoverStream, recordDeletion, manifestPayload, type StreamHead } from './writer.js';
export { verifyArchive, DUPLICATE_WINDOW, type VerifyReport, type VerifyOptions, type Finding, type FindingKind } from './verify.js';
export { prove, checkProof, exportEvents, manifestsOf, type InclusionProof, type ProofCheck, type ExportOptions } from './prove.js';
export { encodeSegment, decodeSegment, segmentDigest, sha256hex, defaultSegmentFormat, type SegmentFormat } from './segment.js';
export { merkleRoot, leafHash, auditPath, rootFromPath } from './merkle.js';
export { canonical, recordType, segmentName, manifestName, type ArchivedRecord, type Manifest } from './format.js';
export {
  appendCheckpoint,
  readCheckpointChain,
  catchUp as followCheckpointChain,
  checkpointPayload,
  headLine,
  parseExpectedHead,
  markOf,
  emptyMark,
  checkpointName,
  checkpointPrefix,
  type Checkpoint,
  type CheckpointChain,
  type PartitionMark,
  type ExpectedHead,
} from './checkpoint.js';
export { checkCheckpoints, type CheckpointUsed } from './verify-checkpoints.js';
export { ArchiveError, ARCHIVE_CODES, ARCHIVE_ERRORS } from './errors.js';
