"""Planner reports: dealer measures, charts (PNG, SVG, Plotly) and exports (Excel, PDF)."""
