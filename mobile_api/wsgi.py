"""WSGI entry point for gunicorn: ``gunicorn mobile_api.wsgi:app``."""

from mobile_api.app import create_app

app = create_app()
