"""Acquisition protocols, one module each; the registry finds every module here.

A module declares ``SOURCE = SourceSpec(protocol, device model, hub)``
(``carbonstream.gateway.source``). Modules whose name starts with ``_`` are
helpers and declare nothing. See docs/guides/add-a-protocol.md.
"""
