import type { GroupAssignment, GroupPartitionsAssigner } from "@platformatic/kafka";

/**
 * Partition assignment for a group whose members read different topics: each topic any
 * member subscribed to has its partitions dealt round robin over the members subscribed to
 * it. The client's own roundRobinAssigner deals only the leader's topics, over all members
 * whatever each one subscribed to — the analytics service reads `orders` and `tasks` as two
 * members of one group, so partitions of `orders` went to the member reading `tasks` and
 * were never read. (Java's assignors respect subscriptions.) Deterministic: members and
 * topics in sorted order. `metadata` holds every member's topics (the client fetches them).
 */
export const subscribedRoundRobinAssigner: GroupPartitionsAssigner = (
  _current,
  members,
  topics,
  metadata,
) => {
  const ids = [...members.keys()].sort();
  const assignments = ids.map((memberId) => ({
    memberId,
    assignments: new Map<string, GroupAssignment>(),
  }));
  const byMember = new Map(assignments.map((a) => [a.memberId, a]));
  const subscribed = new Set(topics);
  for (const member of members.values())
    for (const topic of member.topics ?? []) subscribed.add(topic);
  for (const topic of [...subscribed].sort()) {
    // A member whose metadata names no topics is taken to read the leader's.
    const readers = ids.filter((id) => {
      const own = members.get(id)?.topics;
      return own ? own.includes(topic) : topics.has(topic);
    });
    const partitions = metadata.topics.get(topic)?.partitionsCount ?? 0;
    for (let partition = 0; partition < partitions && readers.length > 0; partition++) {
      const reader = byMember.get(readers[partition % readers.length] as string);
      if (!reader) continue;
      let assigned = reader.assignments.get(topic);
      if (!assigned) {
        assigned = { topic, partitions: [] };
        reader.assignments.set(topic, assigned);
      }
      assigned.partitions.push(partition);
    }
  }
  return assignments;
};
