"""Fixtures: a fixed clock value, a data cipher, and an open database on a tmp file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage import Database, FieldCipher

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    """A fixed, timezone-aware 'now' (nothing in storage reads a clock)."""
    return NOW


@pytest.fixture
def cipher() -> FieldCipher:
    """A cipher with a fresh random key."""
    return FieldCipher(FieldCipher.generate_key())


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the test database lives (its directory does not exist yet)."""
    return tmp_path / "var" / "frontdoor.db"


@pytest.fixture
async def db(db_path: Path, cipher: FieldCipher) -> AsyncIterator[Database]:
    """An open, migrated database, closed after the test."""
    database = await Database.open(db_path, cipher=cipher)
    try:
        yield database
    finally:
        await database.close()
