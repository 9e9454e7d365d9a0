"""The banking dialogue of the voice desk: a LangGraph flow (greet → identify → serve → transfer or goodbye) and the
pipeline stage that feeds it the caller's words and keys."""
