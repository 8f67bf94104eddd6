"""Errors a user can act on: the CLI prints them in one line, without a traceback."""


class UserError(Exception):
    """A problem with the user's input or arguments; the message says what to do."""
