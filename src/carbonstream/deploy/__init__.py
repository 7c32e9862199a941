"""Deployment files generated from the configuration (the broker's ACL)."""
