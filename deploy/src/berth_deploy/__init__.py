"""Berth deployment tooling: berth.yml, prepare, the local supervisor, infrastructure discovery."""
