"""Demand forecasting: statsforecast candidates, a backtest-weighted ensemble, intervals and reconciliation."""
