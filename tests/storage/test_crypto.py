"""Field encryption and loading, creating and guarding the data key file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from storage import DecryptError, FieldCipher, KeyFileError, load_or_create_key
from storage.crypto import new_key_material, replace_key_file
from storage.errors import StorageError

ENV = "FRONTDOOR_DATA_KEY"


def test_round_trip() -> None:
    """What is encrypted decrypts to the same bytes, and the token hides the plaintext."""
    cipher = FieldCipher(FieldCipher.generate_key())
    token = cipher.encrypt(b"run logs service=api")
    assert b"logs" not in token
    assert cipher.decrypt(token) == b"run logs service=api"


BAD_TOKENS = [
    ("other_key", lambda good: FieldCipher(Fernet.generate_key()).encrypt(b"x")),
    ("flipped_byte", lambda good: good[:-5] + bytes([good[-5] ^ 1]) + good[-4:]),
    ("garbage", lambda good: b"not a token"),
    ("empty", lambda good: b""),
]


@pytest.mark.parametrize("make", [t[1] for t in BAD_TOKENS], ids=[t[0] for t in BAD_TOKENS])
def test_bad_token_raises_storage_error(make) -> None:  # type: ignore[no-untyped-def]
    """A token made with another key, altered, or malformed raises DecryptError (a StorageError)."""
    cipher = FieldCipher(FieldCipher.generate_key())
    with pytest.raises(DecryptError) as info:
        cipher.decrypt(make(cipher.encrypt(b"secret")))
    assert isinstance(info.value, StorageError)
    assert "secret" not in str(info.value)


def test_rotation_decrypts_old_and_encrypts_new() -> None:
    """With `NEW,OLD` keys, old tokens still decrypt and new ones use the new key."""
    old, new = Fernet.generate_key(), Fernet.generate_key()
    old_token = FieldCipher(old).encrypt(b"a")
    rotated = FieldCipher(new + b"," + old)
    assert rotated.decrypt(old_token) == b"a"
    assert FieldCipher(new).decrypt(rotated.encrypt(b"b")) == b"b"
    assert FieldCipher(new).decrypt(rotated.rotate(old_token)) == b"a"


@pytest.mark.parametrize("material", [b"", b"short", b" , "], ids=["empty", "short", "commas"])
def test_malformed_key_is_refused(material: bytes) -> None:
    """A key that is not a Fernet key is a KeyFileError, whose message holds no key."""
    with pytest.raises(KeyFileError) as info:
        FieldCipher(material)
    assert "short" not in str(info.value)


def test_derived_keys_differ_by_purpose_and_key() -> None:
    """Sub-keys are per purpose and per data key, and never the data key itself."""
    a, b = Fernet.generate_key(), Fernet.generate_key()
    cipher = FieldCipher([a, b])
    one = cipher.derive_keys("audit")
    assert len(one) == 2
    assert one[0] != one[1]
    assert one != cipher.derive_keys("other")
    assert a not in one


def test_key_from_env_wins(tmp_path: Path) -> None:
    """A key in the environment is used and no file is created."""
    key = Fernet.generate_key()
    material, created = load_or_create_key({ENV: key.decode()}, ENV, tmp_path / "data.key")
    assert (material, created) == (key, False)
    assert not (tmp_path / "data.key").exists()


def test_bad_key_in_env_is_refused(tmp_path: Path) -> None:
    """A malformed env key fails instead of silently generating another."""
    with pytest.raises(KeyFileError):
        load_or_create_key({ENV: "not-a-key"}, ENV, tmp_path / "data.key")


def test_key_file_is_created_private_then_reused(tmp_path: Path) -> None:
    """Without env or file a 0600 key file is created (created=True), then read back."""
    path = tmp_path / "keys" / "data.key"
    key, created = load_or_create_key({}, ENV, path)
    assert created is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again, created_again = load_or_create_key({ENV: "  "}, ENV, path)
    assert (again, created_again) == (key, False)
    assert FieldCipher(again).decrypt(FieldCipher(key).encrypt(b"x")) == b"x"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660], ids=oct)
def test_readable_key_file_is_refused(tmp_path: Path, mode: int) -> None:
    """A key file that group or others can read is refused, naming the fix."""
    path = tmp_path / "data.key"
    path.write_bytes(Fernet.generate_key())
    path.chmod(mode)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_or_create_key({}, ENV, path)


def test_symlinked_key_file_is_refused(tmp_path: Path) -> None:
    """The key file must be the file itself, not a symlink someone could redirect."""
    real = tmp_path / "real.key"
    real.write_bytes(Fernet.generate_key())
    real.chmod(0o600)
    link = tmp_path / "data.key"
    os.symlink(real, link)
    with pytest.raises(KeyFileError):
        load_or_create_key({}, ENV, link)


def test_corrupt_key_file_is_refused(tmp_path: Path) -> None:
    """A key file holding something else fails closed."""
    path = tmp_path / "data.key"
    path.write_bytes(b"hello")
    path.chmod(0o600)
    with pytest.raises(KeyFileError):
        load_or_create_key({}, ENV, path)


def test_rotated_key_file_is_private_and_loads_back(tmp_path: Path) -> None:
    """replace_key_file writes the new material 0600 and load_or_create_key reads it."""
    material = FieldCipher.generate_key()
    key_path = tmp_path / "fd.key"
    replace_key_file(key_path, material)
    new = new_key_material(material)
    replace_key_file(key_path, new)
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    assert load_or_create_key({}, "NOPE", key_path) == (new, False)
    assert list(tmp_path.iterdir()) == [key_path]
    with pytest.raises(StorageError):
        replace_key_file(key_path, b"not a key")
    assert load_or_create_key({}, "NOPE", key_path)[0] == new
