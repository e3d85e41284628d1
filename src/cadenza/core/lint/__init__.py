"""`cadenza lint`: every problem of a definition, each at its line and column, in one pass."""

from __future__ import annotations

from cadenza.core.lint.document import TEMPLATE_FILE as TEMPLATE_FILE
from cadenza.core.lint.document import lint_file as lint_file
from cadenza.core.lint.document import lint_text as lint_text
