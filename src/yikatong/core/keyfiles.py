"""Key files under YIKATONG_HOME/keys: created on first use with owner-only permissions (0600).

A key file is written in full under a temporary name and then hard-linked into place, which fails if
another process got there first: a reader never sees a half-written key file, and two processes starting
at once end up with the same key.
"""

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def read_or_create(path: Path, make: Callable[[], str]) -> str:
    """Read a key file, creating it with make() the first time."""
    try:
        return path.read_text()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = write_private_tmp(path, make())
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process created it first: use theirs
    finally:
        tmp.unlink()
    return path.read_text()


def write_private_tmp(path: Path, text: str) -> Path:
    """Write `text` to a new 0600 file beside `path` and return its name."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    return tmp


def read_or_create_secret(path: Path, nbytes: int = 32) -> str:
    """Return the hex secret stored at `path`, creating it the first time."""
    return read_or_create(path, lambda: secrets.token_hex(nbytes)).strip()
