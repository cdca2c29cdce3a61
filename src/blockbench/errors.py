"""The one exception type a user sees as a one-line message instead of a traceback."""


class BlockbenchError(Exception):
    """A problem the user can fix (bad params, missing or corrupt input); shown as one line."""


class ParamsError(BlockbenchError):
    """params.yaml breaks the schema: the message names the key and what is allowed."""
