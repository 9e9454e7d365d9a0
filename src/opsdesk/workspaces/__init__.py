"""The workspace's business profile, shared by the solutions: settings a workspace edits over the API."""
