"""Inventory planner: sales history becomes forecasts, order recommendations under constraints, and learning."""
