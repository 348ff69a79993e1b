"""Field encryption (Fernet, with key rotation) and loading or creating the data key.

`FieldCipher` encrypts values stored at rest (the parked request of an approval). It
takes one or more Fernet keys, newest first: it encrypts with the first and decrypts
with any, so an operator rotates by prepending a new key (`NEW,OLD` in the env var).

`load_or_create_key` takes the key from an environment variable if set, else from a
key file, else generates one and writes it with mode 0600 (telling the caller, who
should warn the operator). A key file readable by group or others is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from storage.errors import DecryptError, KeyFileError

__all__ = ["FieldCipher", "load_or_create_key", "new_key_material", "replace_key_file"]


def _split(material: bytes) -> list[bytes]:
    return [part for part in material.replace(b"\n", b",").split(b",") if part.strip()]


class FieldCipher:
    """Encrypt/decrypt bytes with Fernet; several keys (newest first) allow rotation."""

    __slots__ = ("_keys", "_multi", "_newest")

    def __init__(self, keys: bytes | Sequence[bytes]) -> None:
        raw = _split(keys) if isinstance(keys, bytes) else list(keys)
        if not raw:
            raise KeyFileError("no data key given", op="cipher")
        try:
            fernets = [Fernet(key.strip()) for key in raw]
        except (ValueError, TypeError):
            raise KeyFileError("data key is not a valid Fernet key", op="cipher") from None
        self._keys = tuple(key.strip() for key in raw)
        self._multi = MultiFernet(fernets)
        self._newest = fernets[0]

    @staticmethod
    def generate_key() -> bytes:
        """A new random Fernet key (url-safe base64 text as bytes)."""
        return Fernet.generate_key()

    def encrypt(self, plaintext: bytes) -> bytes:
        """Encrypt with the newest key."""
        return self._multi.encrypt(plaintext)

    def decrypt(self, token: bytes) -> bytes:
        """Decrypt with any configured key; DecryptError if none fits or the token was altered."""
        try:
            return self._multi.decrypt(token)
        except (InvalidToken, TypeError, ValueError):
            raise DecryptError("stored value could not be decrypted", op="decrypt") from None

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt a token under the newest key."""
        try:
            return self._multi.rotate(token)
        except (InvalidToken, TypeError, ValueError):
            raise DecryptError("stored value could not be decrypted", op="rotate") from None

    def is_current(self, token: bytes) -> bool:
        """Whether `token` was made with the newest key (so rotating it would change nothing)."""
        try:
            self._newest.decrypt(token)
        except (InvalidToken, TypeError, ValueError):
            return False
        return True

    @property
    def key_count(self) -> int:
        """How many keys this cipher holds."""
        return len(self._keys)

    def derive_keys(self, purpose: str) -> list[bytes]:
        """Independent sub-keys for `purpose` (e.g. signing), one per data key, newest first."""
        label = purpose.encode()
        return [hmac.new(key, b"frontdoor/" + label, hashlib.sha256).digest() for key in self._keys]

    def __repr__(self) -> str:
        return f"FieldCipher(<{len(self._keys)} key(s)>)"


def new_key_material(current: bytes) -> bytes:
    """`current` (one or more comma-separated keys) with a freshly generated key prepended.

    Store the result where the data key lives (env var or key file), restart or switch
    with `Database.use_cipher`, then re-encrypt with `storage.rotation.rotate`.
    """
    keys = _split(current)
    FieldCipher(keys)  # validate: KeyFileError names no key
    return b",".join([FieldCipher.generate_key(), *(key.strip() for key in keys)])


def replace_key_file(key_path: Path, material: bytes) -> None:
    """Atomically replace the key file with `material` (validated first), mode 0600.

    Written to a private temporary file in the same directory, synced, then renamed
    over the old one, so a crash leaves either the old or the new keys, never a mix.
    """
    FieldCipher(material)
    tmp = key_path.with_name(f".{key_path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, material.strip() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, key_path)
        dir_fd = os.open(key_path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise KeyFileError(f"cannot write key file ({exc.strerror})", op="key") from None


def load_or_create_key(env: Mapping[str, str], env_name: str, key_path: Path) -> tuple[bytes, bool]:
    """Return (key material, created): from `env[env_name]`, else `key_path`, else a new file.

    The returned bytes may hold several comma-separated keys (newest first) and can be
    passed straight to `FieldCipher`. Raises KeyFileError for a malformed key or a key
    file that group or others may read.
    """
    from_env = env.get(env_name, "").strip()
    if from_env:
        material = from_env.encode()
        FieldCipher(material)  # validate now, with an error that names no key
        return material, False
    try:
        return _read_key_file(key_path), False
    except FileNotFoundError:
        pass
    key = FieldCipher.generate_key()
    key_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return _read_key_file(key_path), False
    except OSError as exc:
        raise KeyFileError(f"cannot create key file ({exc.strerror})", op="key") from None
    try:
        os.write(fd, key + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return key, True


def _read_key_file(key_path: Path) -> bytes:
    try:
        fd = os.open(key_path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise KeyFileError(f"cannot open key file ({exc.strerror})", op="key") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError("key file is not a regular file", op="key")
        if info.st_mode & 0o077:
            raise KeyFileError(
                f"key file is readable by group or others (mode {stat.S_IMODE(info.st_mode):o});"
                " chmod 600 it",
                op="key",
            )
        if info.st_uid != os.geteuid():
            raise KeyFileError("key file is owned by another user", op="key")
        data = b""
        while chunk := os.read(fd, 4096):
            data += chunk
    finally:
        os.close(fd)
    material = data.strip()
    FieldCipher(material)
    return material
