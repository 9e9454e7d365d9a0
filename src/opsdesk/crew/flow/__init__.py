"""The delivery crew flow: a LangGraph graph with approvals, side-effect nodes and a PostgreSQL checkpointer."""
