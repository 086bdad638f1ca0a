"""HTTP serving of trained runs: ``create_app("runs/")`` (FastAPI), used by ``dlzoo serve``.

See ``app.py`` for the endpoints and the naming scheme, ``batching.py`` for micro-batching and
``schemas.py`` for the request and response bodies. Nothing here imports ``dlzoo.training``.
"""

from dlzoo.serve.app import create_app

__all__ = ["create_app"]
