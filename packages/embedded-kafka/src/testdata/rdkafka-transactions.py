#!/usr/bin/env python3
"""librdkafka (python3-confluent-kafka) side of the transaction conformance tests: one JSON object per line on stdout.

  ops BROKER TOPIC TXNID        stdin: JSON lines {"op": "begin" | "send" | "flush" | "commit" | "abort", "value"?};
                                runs them on one transactional producer, prints {"done": n}
  copy BROKER IN OUT GROUP TXNID COUNT
                                consume-transform-produce: reads IN (read_committed) in a group, and per
                                batch begins a transaction, produces each value upper-cased to OUT,
                                sends the consumer's positions with its group metadata
                                (TxnOffsetCommit v3 with generation and member id) and commits; stops after COUNT
  read BROKER TOPIC ISOLATION COUNT
                                reads TOPIC from the beginning with isolation.level ISOLATION until COUNT
                                records or 20 s of nothing, prints {"values": [...]}
"""
import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def ops(broker, topic, txn_id):
    p = Producer({"bootstrap.servers": broker, "transactional.id": txn_id, "transaction.timeout.ms": 60000})
    p.init_transactions(30)
    n = 0
    for line in sys.stdin:
        o = json.loads(line)
        if o["op"] == "begin":
            p.begin_transaction()
        elif o["op"] == "send":
            p.produce(topic, value=o["value"].encode())
        elif o["op"] == "commit":
            p.commit_transaction(30)
        elif o["op"] == "flush":
            p.flush(30)
        elif o["op"] == "abort":
            p.abort_transaction(30)
        n += 1
    out({"done": n})


def copy(broker, src, dst, group_id, txn_id, count):
    count = int(count)
    c = Consumer({"bootstrap.servers": broker, "group.id": group_id, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "isolation.level": "read_committed"})
    p = Producer({"bootstrap.servers": broker, "transactional.id": txn_id})
    p.init_transactions(30)
    c.subscribe([src])
    copied = 0
    deadline = time.time() + 60
    while copied < count and time.time() < deadline:
        msgs = c.consume(num_messages=50, timeout=0.5)
        msgs = [m for m in msgs if m.error() is None]
        if not msgs:
            continue
        p.begin_transaction()
        for m in msgs:
            p.produce(dst, key=m.key(), value=m.value().upper())
        p.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(), 30)
        p.commit_transaction(30)
        copied += len(msgs)
    c.close()
    out({"copied": copied})


def read(broker, topic, isolation, count):
    count = int(count)
    c = Consumer({"bootstrap.servers": broker, "group.id": f"read-{time.time()}", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "isolation.level": isolation})
    c.subscribe([topic])
    values = []
    last = time.time()
    while len(values) < count and time.time() - last < 20:
        m = c.poll(0.2)
        if m is None or m.error() is not None:
            continue
        values.append(m.value().decode())
        last = time.time()
    c.close()
    out({"values": values})


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    try:
        {"ops": ops, "copy": copy, "read": read}[mode](*args)
    except KafkaException as e:
        out({"fatal": str(e)})
        sys.exit(1)
