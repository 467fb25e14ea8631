"""The process machinery: AMQP topology and publisher, the consumer and worker pool, locks, loops."""
