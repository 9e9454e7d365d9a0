"""Tasks inside a knowledge base, with dependencies that never form a cycle."""
