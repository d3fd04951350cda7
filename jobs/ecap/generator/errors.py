"""The generator's one exception root."""

from __future__ import annotations


class GeneratorError(Exception):
    """Invalid generator input (a period, a rate, a setting); the message names the valid values."""
