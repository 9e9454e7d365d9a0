"""The crew's agents: business analyst, developer, QA, DevOps and technical writer, each with a typed output."""
