"""`cadenza lint`: every problem of a definition, each at its line and column, in one pass."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadenza.lazy import exports

if TYPE_CHECKING:
    from cadenza.core.lint.document import TEMPLATE_FILE as TEMPLATE_FILE
    from cadenza.core.lint.document import lint_file as lint_file
    from cadenza.core.lint.document import lint_text as lint_text
else:
    __getattr__, __dir__ = exports(__name__)
