"""Delivery lists: the delivery orders of a date range in one workbook, in the workspace's own template."""
