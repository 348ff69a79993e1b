"""Tests of the storage package, against real aiosqlite files."""
