"""Persistence on aiosqlite: schema and migrations, one repository per aggregate, the hash-chained audit log, field encryption.

May import only `policy` (for its types).
"""
