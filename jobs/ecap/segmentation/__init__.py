"""Customer analytics: RFM segmentation and probabilistic customer lifetime value (BG/NBD + Gamma-Gamma).

``rfm`` and ``clv`` hold the logic (pure DataFrame/array functions), ``runner`` the thin I/O that reads the
transactions table, writes ``customer_segments`` and the report, and reports status.
"""

from __future__ import annotations


class SegmentationError(RuntimeError):
    """Root of every error raised by customer analytics; the message says what to fix."""


class FitError(SegmentationError):
    """A CLV model cannot be fitted to the given summary (too little or degenerate data)."""


class SummaryError(SegmentationError):
    """A per-customer summary that is missing columns or holds impossible values."""
