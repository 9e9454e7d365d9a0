"""The one durable background-job layer: named tasks, transactional enqueue, retries with backoff, schedules."""
