"""The event bus: business events written to an outbox in the caller's transaction, relayed to RabbitMQ or in
process, consumed at least once with de-duplication by event id and a dead-letter state."""
