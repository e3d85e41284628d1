"""Times as every listing carries them: ISO 8601 text with its offset, documented as such."""

from __future__ import annotations

from typing import Annotated

from pydantic import WithJsonSchema

# What a row's time is (text, as the CLI's --json prints it) and how the API documents it.
IsoTime = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
