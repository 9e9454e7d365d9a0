"""The fake Xero of the order tests, for the order desk's scheduled tasks."""

from tests.orders.conftest import fake_xero, xero_server

__all__ = ["fake_xero", "xero_server"]
