"""squeeze: compressed-communication distributed optimization (Python layer over Rust).

* :class:`Compressor` — any registered spec string (``"top_k:ratio=0.01"``,
  ``"top_k:ratio=0.01 | scaled(qsgd:s=16)"``) on float32/float64 numpy arrays;
* :class:`Message` — a compressed vector: exact ``bits``, wire bytes, decode, ``add_to``;
* :mod:`squeeze.feedback` — push-style error feedback (EF21, EF14, EControl, Clip21);
* :mod:`squeeze.torch` — a PyTorch DDP communication hook (imports torch lazily).

Everything is computed by the Rust crates; errors are ``ValueError`` with the Rust message.
Randomness comes only from ``seed``/``worker``/``round`` arguments, derived as in Rust, so the
same arguments give the same bytes in Python and in Rust.
"""

from . import feedback
from ._native import Compressor, Message, compressors, round_seed

__all__ = ["Compressor", "Message", "compressors", "feedback", "round_seed"]
__version__ = "0.1.0"
