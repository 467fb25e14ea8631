"""Berth jobservice: durable jobs from RabbitMQ, tracked in PostgreSQL, with cron schedules."""
