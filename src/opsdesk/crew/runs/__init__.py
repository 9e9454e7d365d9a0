"""Crew runs: the read model of each flow run (status, steps, artefacts, cost, time), its API and CLI."""
