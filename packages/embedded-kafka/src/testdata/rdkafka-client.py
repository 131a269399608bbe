#!/usr/bin/env python3
"""librdkafka (python3-confluent-kafka) side of the conformance tests: one JSON object per line on stdout.

  produce BROKER TOPIC CODEC      stdin: JSON lines {"key", "value", "timestamp"?}; prints {"delivered": n, "errors": [...]}
  offsets-for-times BROKER TOPIC TS   prints {"offset": n}
  group BROKER TOPIC GROUP ASSIGNOR STOPFILE [INSTANCE]   a group member (static with group.instance.id INSTANCE):
                                            prints its assignment on every change and each record
                                            (committed synchronously), until STOPFILE exists
  list-groups BROKER                  prints {"groups": [...]} from AdminClient.list_groups (ListGroups + DescribeGroups)
"""
import json
import os
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def produce(broker, topic, codec):
    p = Producer({"bootstrap.servers": broker, "compression.codec": codec, "enable.idempotence": True, "linger.ms": 5})
    errors = []
    delivered = [0]

    def cb(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            delivered[0] += 1

    for line in sys.stdin:
        rec = json.loads(line)
        kwargs = {"key": rec.get("key"), "value": rec["value"], "on_delivery": cb}
        if "timestamp" in rec:
            kwargs["timestamp"] = rec["timestamp"]
        p.produce(topic, **kwargs)
        p.poll(0)
    left = p.flush(30)
    out({"delivered": delivered[0], "errors": errors, "undelivered": left})


def offsets_for_times(broker, topic, ts):
    c = Consumer({"bootstrap.servers": broker, "group.id": "oft-probe", "enable.auto.commit": False})
    res = c.offsets_for_times([TopicPartition(topic, 0, int(ts))], timeout=20)
    out({"offset": res[0].offset, "error": str(res[0].error) if res[0].error else None})
    c.close()


def group(broker, topic, group_id, assignor, stopfile, instance=None):
    conf = {"group.instance.id": instance} if instance else {}
    c = Consumer({
        **conf,
        "bootstrap.servers": broker,
        "group.id": group_id,
        "partition.assignment.strategy": assignor,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
    })

    def report(consumer, _partitions):
        out({"assignment": sorted(tp.partition for tp in consumer.assignment())})

    def on_assign(consumer, partitions):
        if assignor == "cooperative-sticky":
            consumer.incremental_assign(partitions)
        else:
            consumer.assign(partitions)
        report(consumer, partitions)

    def on_revoke(consumer, partitions):
        if assignor == "cooperative-sticky":
            consumer.incremental_unassign(partitions)
        else:
            consumer.unassign()
        report(consumer, partitions)

    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    deadline = time.time() + 90
    while time.time() < deadline and not os.path.exists(stopfile):
        m = c.poll(0.1)
        if m is None:
            continue
        if m.error():
            out({"error": str(m.error())})
            continue
        out({"partition": m.partition(), "offset": m.offset(), "value": m.value().decode()})
        c.commit(message=m, asynchronous=False)
    c.close()
    out({"closed": True})


def list_groups(broker):
    a = AdminClient({"bootstrap.servers": broker})
    groups = a.list_groups(timeout=20)
    out({"groups": [{
        "id": g.id, "state": g.state, "protocol_type": g.protocol_type, "protocol": g.protocol,
        "error": str(g.error) if g.error else None,
        "members": sorted([{"id": m.id, "client_id": m.client_id, "assignment": len(m.assignment)} for m in g.members], key=lambda m: m["id"]),
    } for g in groups]})


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    try:
        if mode == "produce":
            produce(*args)
        elif mode == "offsets-for-times":
            offsets_for_times(*args)
        elif mode == "group":
            group(*args)
        elif mode == "list-groups":
            list_groups(*args)
        else:
            raise SystemExit(f"unknown mode {mode}")
    except KafkaException as e:
        out({"fatal": str(e)})
        sys.exit(1)
