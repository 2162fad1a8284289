"""``minigrad.nn``: modules, functional forms, initialization and utilities."""
from minigrad.nn import functional, init, utils
from minigrad.nn.modules import *  # noqa: F401,F403
from minigrad.nn.parameter import Parameter
