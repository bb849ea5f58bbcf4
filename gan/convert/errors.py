"""The one error type of the converters."""

from __future__ import annotations

from gan.convert._compat import UserInputError


class ConversionError(UserInputError):
    """The source file is not a network this converter can read, or it asks for something unsafe.

    A `ValueError` (through `UserInputError`), with a message meant for the person converting."""
