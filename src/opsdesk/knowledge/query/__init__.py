"""Querying knowledge: hybrid retrieval, reranking, cited answers and a query cache, over HTTP, the CLI and MCP."""
