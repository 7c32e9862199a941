"""The edge gateway: acquisition sources, the scheduler, the disk queue and the publisher.

Protocols live in ``carbonstream.gateway.protocols`` and are found by
``carbonstream.gateway.registry``; docs/gateway.md describes the whole.
"""
