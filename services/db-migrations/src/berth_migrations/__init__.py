"""Berth's database migrations: numbered SQL files under ``sql/`` and the runner that applies them."""
