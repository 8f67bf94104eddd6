"""The web application: the REST API (`/api/v1`) and the investigator's workspace.

``create_app(warehouse, ops_url)`` builds the FastAPI application; ``serve(...)``
runs it with uvicorn (``moneytrail serve``, and the end of ``moneytrail demo``).
See ``docs/api.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moneytrail.web.app import create_app
    from moneytrail.web.cli import serve


def __getattr__(name: str) -> Any:
    # FastAPI and uvicorn load only when the web application is used, not with every CLI command.
    if name == "create_app":
        from moneytrail.web.app import create_app

        return create_app
    if name == "serve":
        from moneytrail.web.cli import serve

        return serve
    raise AttributeError(name)


__all__ = ["create_app", "serve"]
