"""Berth core: users, projects, roles, robots, token service, REST API, UI, audit log."""
