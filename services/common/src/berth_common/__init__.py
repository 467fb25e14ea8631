"""Plumbing shared by Berth's Python services; no domain code lives here."""
