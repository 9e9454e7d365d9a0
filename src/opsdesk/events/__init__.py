"""The event bus: business events written to an outbox in the caller's transaction, relayed to RabbitMQ or in process."""
