"""The error of a conversion: bad input (unreadable file, colour outside the table, shape that
contradicts the catalog) stops the run with this message and publishes nothing."""

from __future__ import annotations

from catalog.errors import InvalidRequestError


class ConversionError(InvalidRequestError):
    """The source cannot be converted as asked; the message names the file and the problem."""
