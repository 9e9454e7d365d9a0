"""Knowledge service: documents, ingestion, chunking, indexing, hybrid retrieval, cited answers."""
