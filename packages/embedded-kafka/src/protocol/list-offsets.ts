/**
 * ListOffsets (key 2), version 1.
 *   Request:  replica_id INT32, [topics: name STRING, [partitions: partition_index INT32, timestamp INT64]]
 *             timestamp -1 = latest (log end), -2 = earliest (log start), else the first offset
 *             whose batch timestamp is >= timestamp
 *   Response: [topics: name STRING, [partitions: partition_index INT32, error_code INT16,
 *             timestamp INT64, offset INT64]]
 */
import { ErrorCode } from '../errors.js';
import type { ApiDefinition } from './context.js';

export const listOffsetsApi: ApiDefinition = {
  key: 2,
  name: 'ListOffsets',
  minVersion: 1,
  maxVersion: 1,
  handle(r, w, _meta, ctx) {
    r.int32();
    const topics = r.array((x) => ({ name: x.string(), partitions: x.array((y) => ({ partition: y.int32(), timestamp: y.int64n() })) }));
    w.array(topics, (x, t) => {
      x.string(t.name);
      x.array(t.partitions, (y, p) => {
        const log = ctx.topics.topics.get(t.name)?.logs[p.partition];
        if (!log) {
          y.int32(p.partition).int16(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION).int64(-1).int64(-1);
          return;
        }
        const offset = p.timestamp === -1 ? log.nextOffset : p.timestamp === -2 ? log.startOffset : log.offsetForTimestamp(p.timestamp);
        y.int32(p.partition).int16(ErrorCode.NONE).int64(-1).int64(offset);
      });
    });
  },
};
