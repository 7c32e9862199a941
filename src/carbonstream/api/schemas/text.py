"""Text a client may send: never a control character PostgreSQL or a log cannot hold.

PostgreSQL text cannot store NUL (a request with one was a 500), and CR, ESC and the
like forge log lines and terminal output. Every free-text field of a request body is
one of these types; the pattern is in the OpenAPI schema, so clients see the rule.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

# One line: no C0 control character, no DEL.
Line = Annotated[str, Field(pattern=r"^[^\x00-\x1f\x7f]*$")]
# Free text (notes, purposes): tab and line breaks allowed, no other control character.
Text = Annotated[str, Field(pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")]
