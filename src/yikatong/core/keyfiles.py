"""Key files under YIKATONG_HOME/keys: created on first use with owner-only permissions."""

import os
import secrets
from pathlib import Path


def read_or_create_secret(path: Path, nbytes: int = 32) -> str:
    """Return the hex secret stored at `path`, creating it (mode 0600) the first time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    value = secrets.token_hex(nbytes)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_text().strip()
    try:
        os.write(fd, value.encode())
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return value
