"""The one exception type the CLI and the app turn into a one-line message."""


class W2VError(Exception):
    """A problem the user can fix; the message says what to do."""
