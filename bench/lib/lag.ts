/**
 * Each consumer group's lag: for every topic the group has committed offsets on, the records
 * between its committed offset and the log end, summed over partitions. Groups that never commit
 * (each interceptor's revocation follower, which re-reads its compacted topic at every start) and
 * this benchmark's own are left out.
 */
import type { Admin } from '@jwt-audit/kafka';

/** group id -> records behind */
export type LagSample = Record<string, number>;

const NOT_PIPELINE = [/^e2e-bench/, /^interceptor-revocations-/];

export async function consumerLag(admin: Admin): Promise<LagSample> {
  const { groups } = await admin.listGroups();
  const topics = (await admin.listTopics()).filter((t) => !t.startsWith('__'));
  const ends = new Map<string, Map<number, number>>();
  for (const t of topics) ends.set(t, new Map((await admin.fetchTopicOffsets(t)).map((o) => [o.partition, Number(o.high)])));
  const out: LagSample = {};
  for (const { groupId } of groups) {
    if (NOT_PIPELINE.some((re) => re.test(groupId))) continue;
    const committed = await admin.fetchOffsets({ groupId, topics });
    let lag = 0;
    let any = false;
    for (const { topic, partitions } of committed) {
      const end = ends.get(topic);
      if (!end || partitions.every((p) => Number(p.offset) < 0)) continue;
      any = true;
      for (const p of partitions) {
        const high = end.get(p.partition) ?? 0;
        // a partition not committed yet is behind by all of it
        lag += Math.max(0, high - Math.max(0, Number(p.offset)));
      }
    }
    if (any) out[groupId] = lag;
  }
  return out;
}
