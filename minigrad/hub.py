"""``minigrad.hub``: checkpoints fetched by URL into a local cache, with ``torch.hub``'s names.

``load_state_dict_from_url`` downloads a file once into ``<hub dir>/checkpoints`` and
returns ``mg.load`` of it: a ``.safetensors`` file (what to publish for both libraries)
or a minigrad checkpoint. A ``torch.save`` pickle (``.pth``) is refused by ``mg.load`` with
a message saying how to convert it, since unpickling can run code. The hub directory is
``$MINIGRAD_HOME/hub``, else ``~/.cache/minigrad/hub`` (torch's is under ``$TORCH_HOME``);
``set_dir`` changes it. Loading models from GitHub repositories (``torch.hub.load``) is
not provided: it imports the repository's own code, written for torch.
"""
import hashlib
import os
import re
import sys
import urllib.parse
import urllib.request

from minigrad._atomic import atomic_open

_hub_dir = None
# torch's naming rule for check_hash: "name-<first 8 or more hex digits of sha256>.ext"
HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")


def get_dir():
    """The hub's cache directory (see the module docstring)."""
    if _hub_dir is not None:
        return _hub_dir
    home = os.environ.get("MINIGRAD_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "minigrad")
    return os.path.join(os.path.expanduser(home), "hub")


def set_dir(d):
    """Use ``d`` as the hub's cache directory from now on."""
    global _hub_dir
    _hub_dir = os.path.expanduser(os.fspath(d))


def download_url_to_file(url, dst, hash_prefix=None, progress=True):
    """Download ``url`` to the path ``dst``, atomically (a failed download leaves nothing).
    With ``hash_prefix``, the file's SHA-256 must start with it, or RuntimeError."""
    sha = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=60) as response:
        total = response.headers.get("Content-Length")
        with atomic_open(dst) as f:
            done = 0
            while True:
                chunk = response.read(1 << 20)
                if not chunk:
                    break
                f.write(chunk)
                sha.update(chunk)
                done += len(chunk)
                if progress:
                    sys.stderr.write(f"\r{done / 2 ** 20:.1f} MiB"
                                     + (f" of {int(total) / 2 ** 20:.1f}" if total else ""))
            if progress:
                sys.stderr.write("\n")
            if hash_prefix is not None and not sha.hexdigest().startswith(hash_prefix):
                raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got '
                                   f'"{sha.hexdigest()}") for {url}')


def load_state_dict_from_url(url, model_dir=None, map_location=None, progress=True,
                             check_hash=False, file_name=None, weights_only=False):
    """``torch.hub.load_state_dict_from_url``: the checkpoint at ``url``, downloaded into
    ``model_dir`` (default ``<hub dir>/checkpoints``) unless already there, then read with
    ``mg.load``. ``map_location`` may name a device ("cpu", "cuda", a ``mg.device``) to put
    the tensors on; ``weights_only`` is accepted and changes nothing (``mg.load`` never
    unpickles, so it only ever loads tensors, arrays and plain values)."""
    from minigrad.serialization import load
    if model_dir is None:
        model_dir = os.path.join(get_dir(), "checkpoints")
    os.makedirs(model_dir, exist_ok=True)
    filename = file_name or os.path.basename(urllib.parse.urlparse(url).path)
    cached = os.path.join(model_dir, filename)
    if not os.path.exists(cached):
        sys.stderr.write(f'Downloading: "{url}" to {cached}\n')
        prefix = None
        if check_hash:
            match = HASH_REGEX.search(filename)
            prefix = match.group(1) if match else None
        download_url_to_file(url, cached, prefix, progress=progress)
    state = load(cached)
    if map_location is None:
        return state
    if callable(map_location) or isinstance(map_location, dict):
        raise TypeError("load_state_dict_from_url: map_location as a function or dict is "
                        "not supported; give a device (such as 'cpu' or 'cuda')")
    from minigrad.func.pytree import tree_map
    from minigrad.tensor import Tensor
    return tree_map(lambda t: t.to(map_location) if isinstance(t, Tensor) else t, state)
