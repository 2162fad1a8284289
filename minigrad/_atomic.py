"""Writing a file so that readers see the old file or the complete new one, never a part."""
import contextlib
import glob
import os
import secrets


def _temp_prefix(path):
    return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tmp-")


def _remove_stale_temporaries(path):
    """Temporaries of ``path`` left by writers that died mid-write (kill -9, power loss):
    their names carry the writer's pid, and a file whose writer no longer runs is removed.
    A live writer's file (another process saving the same target) is left alone."""
    for tmp in glob.glob(glob.escape(_temp_prefix(path)) + "*"):
        try:
            pid = int(tmp[len(_temp_prefix(path)):].split("-")[0])
        except ValueError:
            continue
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        except PermissionError:  # alive, someone else's
            pass


@contextlib.contextmanager
def atomic_open(path):
    """A binary file object whose content replaces ``path`` only when the block succeeds:
    it is written to a temporary file in the same directory, flushed to disk and renamed.
    The file is created with mode 0o666 less the umask, as an ordinary write would be; on
    any failure (a full disk, an exception in the block) the temporary is removed and the
    old file stays as it was."""
    path = os.path.abspath(os.fspath(path))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    _remove_stale_temporaries(path)
    tmp = f"{_temp_prefix(path)}{os.getpid()}-{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
