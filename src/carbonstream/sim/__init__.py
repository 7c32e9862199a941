"""Plant simulation: load profiles and synthetic meter readings for demos and tests."""
