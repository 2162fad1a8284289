"""Writing a file so that readers see the old file or the complete new one, never a part."""
import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_open(path):
    """A binary file object whose content replaces ``path`` only when the block succeeds:
    it is written to a temporary file in the same directory, flushed to disk and renamed."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
