"""The query layer: FastAPI under /v1, API keys with roles, RFC 9457 problem details."""

from carbonstream.api.app import create_app
from carbonstream.api.settings import ApiSettings, load_api_settings

__all__ = ["ApiSettings", "create_app", "load_api_settings"]
