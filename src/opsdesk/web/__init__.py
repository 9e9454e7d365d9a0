"""The browser console: server-rendered pages over the same services and role rules as the API."""
