"""``minigrad.nn``'s layers, one module per family (as ``nn.functional``)."""
from minigrad.nn.modules.linear import (Identity, LazyLinear, Linear,
                                        NonDynamicallyQuantizableLinear)
from minigrad.nn.modules.activation import (CELU, ELU, GELU, Hardsigmoid, Hardswish, Hardtanh,
                                            LeakyReLU, LogSigmoid, LogSoftmax, Mish, PReLU, ReLU,
                                            ReLU6, SELU, SiLU, Sigmoid, Softmax, Softplus,
                                            Softsign, Tanh, Threshold)
from minigrad.nn.modules.dropout import Dropout, Dropout2d
from minigrad.nn.modules.flatten import Flatten
from minigrad.nn.modules.conv import (Conv1d, Conv2d, Conv3d, ConvTranspose2d, LazyConv1d,
                                      LazyConv2d, LazyConv3d)
from minigrad.nn.modules.pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool2d,
                                         AvgPool1d, AvgPool2d, AvgPool3d, MaxPool1d, MaxPool2d,
                                         MaxPool3d, MaxUnpool2d)
from minigrad.nn.modules.normalization import (BatchLayerNorm1d, BatchLayerNorm2d, BatchNorm1d,
                                               BatchNorm2d, BatchNorm3d, BatchRenorm1d,
                                               BatchRenorm2d, GroupNorm, InstanceNorm1d,
                                               InstanceNorm2d, LayerNorm, LazyBatchNorm1d,
                                               LazyBatchNorm2d, LazyBatchNorm3d, SyncBatchNorm)
from minigrad.nn.modules.rnn_norm import (BatchNormLSTM, BLNLSTMCell, BNLSTMCell,
                                          LayerNormGRUCell, LayerNormLSTMCell)
from minigrad.nn.modules.loss import (BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss,
                                      CrossEntropyLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss,
                                      SmoothL1Loss)
from minigrad.nn.modules.sparse import Embedding, EmbeddingBag
from minigrad.nn.modules.distance import CosineSimilarity, PairwiseDistance
from minigrad.nn.modules.padding import (CircularPad1d, CircularPad2d, CircularPad3d,
                                        ConstantPad1d, ConstantPad2d, ConstantPad3d,
                                        ReflectionPad1d, ReflectionPad2d, ReflectionPad3d,
                                        ReplicationPad1d, ReplicationPad2d, ReplicationPad3d,
                                        ZeroPad1d, ZeroPad2d, ZeroPad3d)
from minigrad.nn.modules.pixelshuffle import PixelShuffle, PixelUnshuffle
from minigrad.nn.modules.attention import MultiheadAttention
from minigrad.nn.modules.transformer import TransformerEncoder, TransformerEncoderLayer
from minigrad.nn.modules.lazy import LazyModuleMixin
from minigrad.nn.modules.module import Module, ModuleDict, ModuleList, Sequential
from minigrad.nn.modules.rnn import (GRU, GRUCell, LSTM, LSTMCell, RNN, RNNBase, RNNCell,
                                     RNNCellBase)
