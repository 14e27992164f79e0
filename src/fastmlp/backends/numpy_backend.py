"""The pure-NumPy backend: the Backend base class as it is, the correctness oracle."""
from .base import Backend


class NumpyBackend(Backend):
    name = "numpy"
