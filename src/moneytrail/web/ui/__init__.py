"""The investigator's workspace: HTML pages and static files served beside the REST API."""

from moneytrail.web.ui.pages import mount_ui, ui_router

__all__ = ["mount_ui", "ui_router"]
