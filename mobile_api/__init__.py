"""HTTP layer: flask-smorest blueprints and schemas, one module per app audience; no domain logic here."""

from mobile_api.app import create_app

__all__ = ["create_app"]
