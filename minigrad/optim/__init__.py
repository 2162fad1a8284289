"""Optimizers and learning-rate schedules with PyTorch's names and update rules."""
from minigrad.optim import lr_scheduler, swa_utils
from minigrad.optim.adam import Adam, AdamW
from minigrad.optim.lbfgs import LBFGS
from minigrad.optim.optimizer import Optimizer
from minigrad.optim.sgd import SGD
from minigrad.optim.adadelta import Adadelta
from minigrad.optim.adagrad import Adagrad
from minigrad.optim.rmsprop import RMSprop

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "lr_scheduler", "swa_utils", "Adagrad", "RMSprop",
           "Adadelta", "LBFGS"]
