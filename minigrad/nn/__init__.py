"""``minigrad.nn``: modules, functional forms, initialization and utilities."""
from minigrad.nn import functional, init, utils
from minigrad.nn.modules import *  # noqa: F401,F403
from minigrad.nn.parameter import Parameter, UninitializedBuffer, UninitializedParameter
from minigrad.nn import parallel  # noqa: E402  (after the modules it wraps)
from minigrad.nn.parallel import DataParallel  # noqa: E402
