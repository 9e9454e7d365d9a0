"""Planner imports: CSV and .xlsx files checked row by row, then written all or nothing."""
