from minigrad.nn.modules.basic import (GELU, Dropout, Flatten, Identity, LazyLinear, Linear,
                                       LogSoftmax, Sigmoid, Softmax, Tanh)
from minigrad.nn.modules.conv import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool2d, Conv1d,
                                      Conv2d, Conv3d, LazyConv1d, LazyConv2d, LazyConv3d,
                                      MaxPool2d, MaxUnpool2d)
from minigrad.nn.modules.loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from minigrad.nn.modules.module import Module, ModuleDict, ModuleList, Sequential
from minigrad.nn.modules.normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d,
                                               BatchRenorm1d, BatchRenorm2d, GroupNorm,
                                               InstanceNorm1d, InstanceNorm2d, LayerNorm,
                                               LazyBatchNorm1d, LazyBatchNorm2d,
                                               LazyBatchNorm3d)
from minigrad.nn.modules.extra import (AdaptiveMaxPool2d, AvgPool1d, AvgPool3d,
                                       ConvTranspose2d, Dropout2d, MaxPool1d, MaxPool3d)
from minigrad.nn.modules.activation import (CELU, ELU, SELU, Hardsigmoid, Hardswish, Hardtanh,
                                            LeakyReLU, LogSigmoid, Mish, PReLU, ReLU, ReLU6,
                                            SiLU, Softplus, Softsign, Threshold)
from minigrad.nn.modules.loss import (BCELoss, CosineEmbeddingLoss, KLDivLoss, L1Loss,
                                      SmoothL1Loss)
from minigrad.nn.modules.syncbn import SyncBatchNorm
from minigrad.nn.modules.batchlayernorm import BatchLayerNorm1d, BatchLayerNorm2d
from minigrad.nn.modules.lazy import LazyModuleMixin
from minigrad.nn.modules.padding import (CircularPad1d, CircularPad2d, CircularPad3d,
                                        ConstantPad1d, ConstantPad2d, ConstantPad3d,
                                        ReflectionPad1d, ReflectionPad2d, ReflectionPad3d,
                                        ReplicationPad1d, ReplicationPad2d, ReplicationPad3d,
                                        ZeroPad1d, ZeroPad2d, ZeroPad3d)
from minigrad.nn.modules.distance import CosineSimilarity, PairwiseDistance
from minigrad.nn.modules.pixelshuffle import PixelShuffle, PixelUnshuffle
from minigrad.nn.modules.sparse import Embedding, EmbeddingBag
