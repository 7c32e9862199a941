"""The one way a secret is read: from the environment variable a settings field names.

A secret never sits in a file: a ``*_env`` field (``mqtt.password_env``,
``broker.password_env``, a device's ``password_env``, ``signing.private_key_env``)
names the variable that holds it. An unset variable, or one set to nothing but
whitespace, is a ``ConfigError`` naming the field, the variable and the fix, raised
where the secret is read, at start: an empty secret is a misconfiguration (an
``export VAR=`` left in a unit file, a secret store that returned nothing), and taken
as given it would sign with a key anyone can guess or log in with no password.

It lives below every package that reads a secret (``transport`` sits under
``config`` in the import layers, so ``config.settings`` could not serve it).
"""

from __future__ import annotations

import os

from carbonstream.errors import ConfigError


def env_secret(
    field: str, variable: str, *, source: str | None = None, fix: str | None = None
) -> str:
    """The secret in the environment variable ``variable`` that settings ``field`` names.

    Unset or blank (empty or only whitespace), a ``ConfigError``: from ``field`` itself,
    or, when ``source`` is given (a device, a gateway file, an alerts file), from
    ``source`` with a problem that starts with ``field``, the shape of a list of problems
    checked at load. ``fix`` says what to do; by default, set the variable or remove the
    field. The value is returned as set (a password may end in a space)."""
    value = os.environ.get(variable)
    if value is not None and value.strip():
        return value
    state = "is not set" if value is None else "is empty" if not value else "is only whitespace"
    problem = f"environment variable {variable} {state}: {fix or f'set it, or remove {field}'}"
    if source is None:
        raise ConfigError(field, [problem])
    raise ConfigError(source, [f"{field}: {problem}"])
