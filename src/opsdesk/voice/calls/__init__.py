"""Call records of the voice desk: one row per call, masked transcript, the read API and the retention purge."""
