"""Helpers shared by Berth's tests: servers, clients, images."""
