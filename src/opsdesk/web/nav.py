"""The console's navigation: one entry per page, shown only to roles that may use it."""

from __future__ import annotations

from dataclasses import dataclass

from opsdesk.auth.roles import Permission


@dataclass(frozen=True)
class NavEntry:
    label: str
    href: str
    needs: Permission


NAV: tuple[NavEntry, ...] = (
    NavEntry("Home", "/", Permission.read),
    NavEntry("Planner", "/planner", Permission.read),
    NavEntry("Knowledge", "/knowledge", Permission.read),
    NavEntry("Orders", "/orders", Permission.read),
    NavEntry("Inbox", "/inbox", Permission.read),
    NavEntry("Conversations", "/conversations", Permission.read),
    NavEntry("Calls", "/calls", Permission.read),
    NavEntry("Crew", "/crew", Permission.read),
    NavEntry("API keys", "/admin/api-keys", Permission.manage),
    NavEntry("Chat", "/chat", Permission.read),
    NavEntry("Admin", "/admin", Permission.manage),
    NavEntry("Audit log", "/admin/audit", Permission.manage),
)
