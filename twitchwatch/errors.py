"""Typed errors of the application.  The command line turns each into one line and exit 2."""


class TwitchwatchError(Exception):
    """Base class: a problem the user can fix; the message says how."""


class InputFileError(TwitchwatchError, ValueError):
    """An input file is missing, unreadable or not in the expected format."""


class OutputExistsError(TwitchwatchError, FileExistsError):
    """The output already exists and --force was not given."""
