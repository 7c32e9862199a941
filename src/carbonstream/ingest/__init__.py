"""Ingest: MQTT in, decode and validate, de-duplicate, core, store; ack after commit."""
