"""Roles and what each may do."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    operator = "operator"
    viewer = "viewer"
    service = "service"


class Permission(StrEnum):
    read = "read"  # see the workspace's data
    invoke = "invoke"  # call models, ask questions
    write = "write"  # change business data (documents, orders, catalog)
    manage = "manage"  # users, API keys, workspace settings


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.admin: frozenset(Permission),
    Role.operator: frozenset({Permission.read, Permission.invoke, Permission.write}),
    Role.service: frozenset({Permission.read, Permission.invoke, Permission.write}),
    Role.viewer: frozenset({Permission.read, Permission.invoke}),
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]
