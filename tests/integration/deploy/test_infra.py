"""Private PostgreSQL and RabbitMQ, as `make up` and the test fixtures start them on a machine
where none answers on the default port (CI's machine has system servers, so this path is
exercised here explicitly)."""

from __future__ import annotations

import socket

import pika
import psycopg2
import pytest

from berth_deploy import infra


def test_private_postgres_starts_keeps_data_and_stops(open_tmp_path):
    server = infra.PrivatePostgres(open_tmp_path / "postgres", infra.free_port())
    server.start(open_tmp_path / "postgres.log")
    try:
        url = infra.ensure_database(server.url, "berth")
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
        conn.close()
    finally:
        server.stop()
    assert not infra.port_open("127.0.0.1", server.port)

    again = infra.PrivatePostgres(open_tmp_path / "postgres", server.port)
    again.start(open_tmp_path / "postgres.log")  # the existing cluster is reused, not re-created
    try:
        with psycopg2.connect(infra.with_database(again.url, "berth")) as conn, conn.cursor() as cur:
            cur.execute("SELECT v FROM kept")
            assert cur.fetchone() == (42,)
        conn.close()
    finally:
        again.stop()


def test_private_rabbitmq_starts_accepts_amqp_and_stops(open_tmp_path):
    broker = infra.PrivateRabbitMQ(open_tmp_path / "rabbitmq", infra.free_port())
    # Its Erlang distribution port is taken by the time it starts: it picks another.
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", broker.dist_port))
    squatter.listen()
    taken = broker.dist_port
    try:
        broker.start(open_tmp_path / "rabbitmq.log")
    finally:
        squatter.close()
    assert broker.dist_port != taken
    try:
        connection = pika.BlockingConnection(pika.URLParameters(broker.url))
        channel = connection.channel()
        channel.queue_declare("berth-infra-test", durable=True)
        channel.basic_publish("", "berth-infra-test", b"hello")
        method, _properties, body = channel.basic_get("berth-infra-test", auto_ack=True)
        assert body == b"hello" and method is not None
        connection.close()
    finally:
        broker.stop()
    assert not infra.port_open("127.0.0.1", broker.port)


def test_private_rabbitmq_that_cannot_listen_fails_with_its_output(open_tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        broker = infra.PrivateRabbitMQ(open_tmp_path / "rabbitmq", squatter.getsockname()[1])
        with pytest.raises(infra.InfraError) as failure:
            broker.start(open_tmp_path / "rabbitmq.log", attempts=1)
    message = str(failure.value)
    assert f"private RabbitMQ on port {broker.port}" in message
    assert "output ends" in message and len(message.split("output ends:", 1)[1].strip()) > 0
    assert broker.process.poll() is not None  # nothing left running
