"""Ingestion: staged uploads, crawls and repositories become chunked, embedded document versions, as durable jobs."""
