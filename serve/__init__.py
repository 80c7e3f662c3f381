"""The cxml HTTP service (FastAPI): ``create_app(settings)`` in ``serve.app``."""
