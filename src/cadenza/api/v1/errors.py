"""Errors the API adds to Cadenza's hierarchy: how a request, not a service, went wrong."""

from __future__ import annotations

from cadenza.errors import CadenzaError, DefinitionError, ValidationFailed


class InvalidDefinition(DefinitionError):
    """A posted definition has problems: 422, every `path:line:col: message` in `errors`."""

    status = 422


class Refused(ValidationFailed):
    """Input refused for several reasons, each listed in `errors`."""

    def __init__(self, detail: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(detail)


class PayloadTooLarge(CadenzaError):
    status = 413
    title = "Payload too large"


class UnsupportedMediaType(CadenzaError):
    status = 415
    title = "Unsupported media type"
