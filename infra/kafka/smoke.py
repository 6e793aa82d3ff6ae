#!/usr/bin/env python3
"""Smoke test of a broker started by start.sh, with confluent-kafka (librdkafka, the C library
that gigstream's rdkafka crate wraps): the group behaviour gigstream's tests rely on.

    pip install confluent-kafka
    smoke.py BOOTSTRAP                  # e.g. 127.0.0.1:19092
    smoke.py --sasl BOOTSTRAP CA USER PASSWORD [OTHER_CA]   # a SASL_SSL listener (start.sh
                                                            # KAFKA_SASL_SSL_PORT)

Plain: creates a topic of 4 partitions, produces 1000 records, consumes them with two consumers
(separate processes) of one group with 3 s sessions, kills one with SIGKILL and checks that its
partitions move to the other within about a session timeout, with no record lost.
--sasl: the right password with CA works; a wrong password, a plaintext client and (given
OTHER_CA, a CA that did not sign the server's certificate) an unknown CA fail, naming the cause.
Exits non-zero on any failure; prints what it measured.
"""
import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

SESSION_MS = 3000
PARTITIONS = 4
RECORDS = 1000


def fail(msg):
    print(f"smoke: FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def consume(bootstrap, topic, group):
    """Child process: consume `topic` in `group`; one JSON line per event on stdout."""
    out = lambda **kv: print(json.dumps(kv), flush=True)  # noqa: E731
    c = Consumer({
        "bootstrap.servers": bootstrap, "group.id": group,
        "session.timeout.ms": SESSION_MS, "heartbeat.interval.ms": SESSION_MS // 6,
        "auto.offset.reset": "earliest", "auto.commit.interval.ms": 200,
    })
    c.subscribe([topic], on_assign=lambda _c, ps: out(assigned=sorted(p.partition for p in ps)),
                on_revoke=lambda _c, ps: out(revoked=sorted(p.partition for p in ps)))
    while True:
        m = c.poll(0.2)
        if m is not None and m.error() is None:
            out(record=[m.partition(), m.offset()])


class Child:
    def __init__(self, bootstrap, topic, group):
        self.p = subprocess.Popen([sys.executable, __file__, "--consume", bootstrap, topic, group],
                                  stdout=subprocess.PIPE)
        os.set_blocking(self.p.stdout.fileno(), False)
        self.owned, self.records, self.buf = set(), set(), b""

    def pump(self):
        try:
            self.buf += os.read(self.p.stdout.fileno(), 1 << 20)
        except BlockingIOError:
            return
        *lines, self.buf = self.buf.split(b"\n")  # the last piece may be half a line
        for line in lines:
            ev = json.loads(line)
            if "assigned" in ev:
                self.owned = set(ev["assigned"])
            elif "revoked" in ev:
                self.owned -= set(ev["revoked"])
            else:
                self.records.add(tuple(ev["record"]))


def wait(what, cond, timeout):
    start = time.time()
    while not cond():
        if time.time() - start > timeout:
            fail(f"{what}: not within {timeout}s")
        time.sleep(0.05)
    return time.time() - start


def produce(bootstrap, topic, n, base=0):
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    for i in range(base, base + n):
        p.produce(topic, key=f"key-{i % 37}", value=str(i))
    if p.flush(30) != 0:
        fail("records left unsent after 30 s")


def plain(bootstrap):
    topic, group = f"smoke-{uuid.uuid4().hex[:8]}", f"smoke-g-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    t0 = time.time()
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(30)
    print(f"smoke: created {topic} ({PARTITIONS} partitions) in {time.time() - t0:.2f}s")
    t0 = time.time()
    produce(bootstrap, topic, RECORDS)
    print(f"smoke: produced {RECORDS} records in {time.time() - t0:.2f}s")

    a, b = Child(bootstrap, topic, group), Child(bootstrap, topic, group)
    try:
        both = lambda: a.pump() or b.pump() or (  # noqa: E731
            len(a.owned) == len(b.owned) == PARTITIONS // 2
            and len(a.records) + len(b.records) == RECORDS)
        took = wait("two consumers splitting the partitions and reading every record", both, 60)
        print(f"smoke: group of 2 split {sorted(a.owned)} / {sorted(b.owned)}, read {RECORDS} in {took:.2f}s")
        time.sleep(1)  # let the auto-commit (every 200 ms) store the offsets
        a.p.send_signal(signal.SIGKILL)
        killed = time.time()
        took = wait("the killed consumer's partitions moving to the other",
                    lambda: b.pump() or len(b.owned) == PARTITIONS, 4 * SESSION_MS / 1000 + 10)
        print(f"smoke: SIGKILL of one consumer: all {PARTITIONS} partitions at the other after "
              f"{took:.2f}s (session timeout {SESSION_MS / 1000:.0f}s)")
        if took > 2 * SESSION_MS / 1000 + 2:
            fail(f"the partitions moved only after {took:.1f}s")
        produce(bootstrap, topic, 100, base=RECORDS)
        wait("the survivor reading 100 new records",
             lambda: b.pump() or len(a.records | b.records) == RECORDS + 100, 30)
        print(f"smoke: survivor read the next 100 records ({time.time() - killed:.2f}s after the kill); "
              f"none lost")
    finally:
        for c in (a, b):
            c.p.kill()
            c.p.wait()


def sasl(bootstrap, ca, user, password, other_ca=None):
    def attempt(protocol, pw, cafile=ca):
        errors = []

        class Keep(logging.Handler):  # librdkafka's log: a refused plaintext client is only there
            def emit(self, record):
                errors.append(record.getMessage())
        log = logging.getLogger(f"rdkafka-{uuid.uuid4().hex}")
        log.propagate = False
        log.setLevel(logging.INFO)
        log.addHandler(Keep())
        conf = {"bootstrap.servers": bootstrap, "security.protocol": protocol,
                "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": user, "sasl.password": pw,
                "ssl.ca.location": cafile, "error_cb": lambda e: errors.append(str(e))}
        client = AdminClient(conf, logger=log)
        try:
            md = client.list_topics(timeout=6)
            return True, f"{len(md.brokers)} broker(s)"
        except KafkaException as e:
            client.poll(1)  # serves error_cb: the cause, which the exception does not name
            return False, " | ".join(errors) or str(e)

    ok, why = attempt("SASL_SSL", password)
    if not ok:
        fail(f"right password and CA: {why}")
    print(f"smoke: SASL_SSL + SCRAM-SHA-512, right password: ok ({why})")
    topic = f"smoke-sasl-{uuid.uuid4().hex[:8]}"
    conf = {"bootstrap.servers": bootstrap, "security.protocol": "SASL_SSL",
            "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": user, "sasl.password": password,
            "ssl.ca.location": ca}
    admin = AdminClient(conf)  # kept: a collected client cancels its pending requests
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(30)
    p = Producer(conf)
    for i in range(10):
        p.produce(topic, value=str(i))
    if p.flush(30) != 0:
        fail("SASL_SSL: records left unsent")
    print("smoke: SASL_SSL: created a topic and produced 10 records")
    # The causes librdkafka names, which gigstream's security test looks for.
    for name, protocol, pw, cafile, want in [
            ("wrong password", "SASL_SSL", "not-the-password", ca, "SASL authentication error"),
            ("another CA", "SASL_SSL", password, other_ca, "certificate verify failed"),
            ("plaintext client", "SASL_PLAINTEXT", password, ca, "Disconnected")]:
        if cafile is None:
            continue
        ok, why = attempt(protocol, pw, cafile)
        if ok or want not in why:
            fail(f"{name}: expected a failure naming '{want}', got ok={ok}: {why}")
        print(f"smoke: {name}: fails as expected: "
              f"{next(e for e in why.split(' | ') if want in e)}")


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--consume"] and len(args) == 4:
        consume(*args[1:])
    elif args[:1] == ["--sasl"] and len(args) in (5, 6):
        sasl(*args[1:])
    elif len(args) == 1:
        plain(args[0])
    else:
        sys.exit(__doc__)
    print("smoke: ok")
