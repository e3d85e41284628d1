"""One exception hierarchy: the API maps it to problem details, the CLI to a message and exit 1."""

from __future__ import annotations

from dataclasses import dataclass


class CadenzaError(Exception):
    """Base of every error Cadenza raises on purpose (bad input, missing things, conflicts)."""

    status = 400
    title = "Bad request"


@dataclass(frozen=True)
class Problem:
    """One problem found in a definition or a file, located where a person can find it."""

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class DefinitionError(CadenzaError):
    """A sequence definition has problems; every one of them is listed."""

    title = "Invalid sequence definition"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ValidationFailed(CadenzaError):
    """Input data was refused; nothing was written."""

    status = 422
    title = "Invalid input"


class NotFound(CadenzaError):
    status = 404
    title = "Not found"


class Forbidden(CadenzaError):
    status = 403
    title = "Forbidden"


class Conflict(CadenzaError):
    status = 409
    title = "Conflict"


class ConfigurationError(CadenzaError):
    title = "Configuration error"


class BenchmarkFailed(CadenzaError):
    """A measurement could not be taken as designed; its figures would mean nothing."""

    status = 500
    title = "Benchmark failed"
