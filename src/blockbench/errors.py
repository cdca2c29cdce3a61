"""The one exception type a user sees as a one-line message instead of a traceback."""


class BlockbenchError(Exception):
    """A problem the user can fix (bad params, missing or corrupt input); shown as one line."""


class ParamsError(BlockbenchError):
    """params.yaml breaks the schema: the message names the key and what is allowed."""


_OS_HINTS = {
    "ENOSPC": "free some space and rerun",
    "EFBIG": "the file size limit (ulimit -f) or the disk is too small; raise it and rerun",
    "EDQUOT": "the disk quota is full; free some space and rerun",
    "EACCES": "make it writable (or run where you may write) and rerun",
    "EPERM": "make it writable (or run where you may write) and rerun",
    "EROFS": "the file system is read-only; run in a writable checkout",
    "ENAMETOOLONG": "a run or split name makes the path too long; use a shorter name",
    "EISDIR": "a directory stands where a file should be; remove it and rerun",
    "ENOTDIR": "a file stands where a directory should be; remove it and rerun",
}


def describe_os_error(exc: OSError) -> str:
    """One line for an operating-system error a user can fix (full disk, read-only directory,
    a name too long), naming the file and what to do; nothing is left half-written, since every
    output is written to a temporary file and renamed."""
    import errno

    name = errno.errorcode.get(exc.errno or 0, "")
    where = f"{exc.filename}: " if exc.filename else ""
    what = exc.strerror or str(exc)
    hint = _OS_HINTS.get(name)
    return f"{where}{what}" + (f"; {hint}" if hint else "")
