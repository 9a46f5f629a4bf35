"""ASGI entry point for Uvicorn: ``chaoyun.web.main:app``."""

from chaoyun.web.app import create_app

app = create_app()
