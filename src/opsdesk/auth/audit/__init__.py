"""The audit log: who changed what in a workspace, one row per accepted state-changing request."""
