"""Wiring: the app context, the app factory, bootstrap and health; the only package that knows every domain."""
