"""Discussions: the SQLite store, ownership, automatic titles, export and import."""
