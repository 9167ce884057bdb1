"""Sub-commands of this package, added to the ``twitchwatch`` parser by cli.COMMAND_MODULES."""
from __future__ import annotations


def register(sub, common) -> None:
    """Add this package's sub-commands to ``sub`` (argparse sub-parsers); ``common`` is the
    parent parser with the shared options (--data-dir)."""
