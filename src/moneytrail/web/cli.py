"""`moneytrail serve`: the web application on a warehouse, with uvicorn."""

from __future__ import annotations

import os
import threading
import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from moneytrail.errors import UserError

ENV_WAREHOUSE = "MONEYTRAIL_WEB_WAREHOUSE"
ENV_OPS_URL = "MONEYTRAIL_WEB_OPS_URL"


def app_from_env() -> object:
    """The application factory uvicorn calls in each worker process (settings come by environment)."""
    from moneytrail.web.app import create_app

    return create_app(Path(os.environ[ENV_WAREHOUSE]), os.environ.get(ENV_OPS_URL) or None)


def serve(warehouse: Path, host: str = "127.0.0.1", port: int = 8000, open_browser: bool = False, *,
          workers: int = 1, ops_url: str | None = None) -> None:
    """Serve the workspace and the API on `warehouse` until interrupted (Ctrl+C)."""
    import uvicorn

    from moneytrail.opstore import OpsStore
    from moneytrail.web.auth import server_secret
    from moneytrail.web.queries.reader import WarehouseReader

    warehouse = Path(warehouse)
    WarehouseReader(warehouse).close()  # a clear error now rather than in every worker
    OpsStore(ops_url).dispose()  # migrate once, before workers start
    server_secret()  # every worker signs sessions with the same key
    if workers < 1:
        raise UserError("--workers needs at least 1")
    os.environ[ENV_WAREHOUSE] = str(warehouse.resolve())
    if ops_url:
        os.environ[ENV_OPS_URL] = ops_url
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    typer.echo(f"moneytrail workspace on {url} (API {url}api/v1/docs); Ctrl+C stops it")
    if open_browser:
        threading.Timer(1.5, lambda: webbrowser.open(url)).start()
    uvicorn.run("moneytrail.web.cli:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level="warning")


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_command(
        store: Annotated[Path | None, typer.Option("--store", help="DuckDB warehouse (default: $MONEYTRAIL_STORE or your data directory).")] = None,
        host: Annotated[str, typer.Option("--host", help="Interface to listen on (0.0.0.0 for every one).")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
        workers: Annotated[int, typer.Option("--workers", min=1, max=32, help="Worker processes.")] = 1,
        ops_url: Annotated[str | None, typer.Option("--ops-url", help="Database of users, cases and audit (default: $MONEYTRAIL_DATABASE_URL or SQLite in your data directory).")] = None,
        open_browser: Annotated[bool, typer.Option("--open/--no-open", help="Open the workspace in a browser.")] = False,
    ) -> None:
        """Serve the investigator's workspace and the REST API on a warehouse."""
        from moneytrail.store import default_store_path

        serve(store or default_store_path(), host, port, open_browser, workers=workers, ops_url=ops_url)
