"""A small Keras-like network module computed with convops' own forward and backward ops.

Enough to write, train and evaluate the classic MNIST convnet in as many lines as Keras, with
Keras's names, defaults and weight layouts — and every number inspectable as a NumPy array:

>>> from convops import nn
>>> from convops.nn import layers
>>> nn.set_random_seed(0)
>>> model = nn.Sequential([
...     layers.Input(shape=(28, 28, 1)),
...     layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
...     layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
...     layers.Conv2D(128, 3, activation="relu"),
...     layers.Flatten(), layers.Dense(10, activation="softmax")])
>>> model.count_params()
104202
>>> model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
"""

from convops.nn import activations, callbacks, initializers, layers, losses, models, optimizers, saving
from convops.nn._random import set_random_seed
from convops.nn.callbacks import Callback, EarlyStopping, History, ModelCheckpoint
from convops.nn.layers import (
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Conv2D,
    Conv2DTranspose,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    Input,
    InputLayer,
    MaxPooling2D,
    ReLU,
    Softmax,
    ZeroPadding2D,
)
from convops.nn.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    MeanSquaredError,
    SparseCategoricalCrossentropy,
)
from convops.nn.models import Model, Sequential
from convops.nn.optimizers import SGD, Adam, RMSprop
from convops.nn.saving import load_model

__all__ = [
    "layers",
    "models",
    "losses",
    "optimizers",
    "activations",
    "initializers",
    "set_random_seed",
    "saving",
    "load_model",
    "Sequential",
    "Model",
    "History",
    "callbacks",
    "Callback",
    "EarlyStopping",
    "ModelCheckpoint",
    "Input",
    "InputLayer",
    "Conv2D",
    "MaxPooling2D",
    "AveragePooling2D",
    "Flatten",
    "Dense",
    "ReLU",
    "Softmax",
    "Activation",
    "Dropout",
    "BatchNormalization",
    "Conv2DTranspose",
    "GlobalAveragePooling2D",
    "ZeroPadding2D",
    "SparseCategoricalCrossentropy",
    "CategoricalCrossentropy",
    "BinaryCrossentropy",
    "MeanSquaredError",
    "RMSprop",
    "SGD",
    "Adam",
]
