"""Precisions: the bitwidths ``W,A,G`` a model is built at, and how activations are bounded.

Free of TensorFlow, so that a config is checked (``python -m annt``) without importing it;
:mod:`annt.quantization` turns a precision into DoReFa's quantizers.
"""
from dataclasses import dataclass

from .errors import excerpt

#: How an activation feeding a quantized layer is bounded to [0, 1] before it is quantized: ``clip``
#: (the default, as DoReFa-Net's paper) or ``cabs``, ``min(|x|, 1)``, as tensorpack's DoReFa example does.
ACTIVATION_BOUNDS = ("clip", "cabs")

#: Bitwidths a precision may use. Above 16 bits ``round(x * (2**k - 1))`` is no
#: longer exact in float32, so 17..31 would not give the promised levels; 32 = off.
SUPPORTED_BITS = tuple(range(1, 17)) + (32,)

#: The paper's seven precisions (weights, activations, gradients), the shipped zoo's.
PAPER_PRECISIONS = ("FP", "1,1,32", "2,2,32", "4,4,32", "8,8,32", "12,12,32", "16,16,32")


@dataclass(frozen=True)
class Precision:
    """Bitwidths of weights, activations and gradients (32 = full precision)."""

    weights: int = 32
    activations: int = 32
    gradients: int = 32

    def __post_init__(self):
        for field in ("weights", "activations", "gradients"):
            bits = getattr(self, field)
            if isinstance(bits, bool) or not isinstance(bits, int) or bits not in SUPPORTED_BITS:
                raise ValueError(
                    f"{field} bitwidth must be one of 1..16 or 32, got {excerpt(bits)}")

    @classmethod
    def parse(cls, value):
        """Read ``"FP"``, ``"W,A,G"`` (e.g. ``"2,2,32"``), a mapping, or a Precision."""
        if isinstance(value, Precision):
            return value
        if isinstance(value, dict):
            unknown = set(value) - {"weights", "activations", "gradients"}
            if unknown:
                raise ValueError(
                    f"unknown precision field(s) {sorted(unknown)}; "
                    "allowed: weights, activations, gradients")
            return cls(**value)
        if isinstance(value, str):
            text = value.strip()
            if text.upper() == "FP":
                return cls()
            parts = [p.strip() for p in text.split(",")]
            if len(parts) == 3 and all(p.isdigit() for p in parts):
                return cls(*(int(p) for p in parts))
        raise ValueError(
            f"precision must be 'FP', 'W,A,G' with bitwidths in 1..16 or 32 "
            f"(e.g. '2,2,32'), or a mapping; got {excerpt(value)}")

    @property
    def is_full(self):
        """True for 32,32,32 (written ``FP``)."""
        return self.weights == self.activations == self.gradients == 32

    def __str__(self):
        return "FP" if self.is_full else f"{self.weights},{self.activations},{self.gradients}"

    @property
    def slug(self):
        """File-name form: ``fp`` or ``w2a2g32``."""
        if self.is_full:
            return "fp"
        return f"w{self.weights}a{self.activations}g{self.gradients}"
