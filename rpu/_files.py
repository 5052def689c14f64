"""Writing a file by moving a finished temporary file into place.

``rpu.save`` and the sweep's results tables write this way, so that an interrupted write never
leaves a half-written file under the name. The rename replaces whatever the name points at; this
module makes sure that is an ordinary file the process may write (a rename onto /dev/null, as
root, replaced the device), follows symbolic links to their target, and gives the new file the
permissions of the one it replaces (a temporary file is created private).
"""
import os
import stat

__all__ = ["replace_target", "move_into_place"]


def replace_target(path, what):
    """Check that ``path`` can be replaced by a new file.

    Parameters
    ----------
    path : str
        The file to write (a link is followed).
    what : str
        How messages name the operation, e.g. "cannot save to 'x.npz'".

    Returns
    -------
    target : str
        The real path to move the new file to.
    existing : os.stat_result or None
        The file there now, if any.

    Raises
    ------
    FileNotFoundError
        The target's folder does not exist.
    ValueError
        The target is a folder, a device, a pipe or another non-regular file.
    PermissionError
        The target is a file this process may not write.
    """
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{what}: the folder {folder!r} does not exist.")
    try:
        existing = os.stat(target)
    except FileNotFoundError:
        existing = None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        kind = "a folder" if stat.S_ISDIR(existing.st_mode) else "not a regular file"
        raise ValueError(f"{what}: it is {kind}, and writing would replace it; give the path "
                         f"of a file.")
    if existing is not None and not os.access(target, os.W_OK):
        raise PermissionError(f"{what}: the file is read-only.")
    return target, existing


def _umask():
    """The process's umask, read without changing it (Linux); 0o022 where it cannot be read."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def move_into_place(tmp, target, existing):
    """Give the finished temporary file ``tmp`` the permissions of the file it replaces (or of
    a new file under the umask) and rename it to ``target`` (from :func:`replace_target`)."""
    os.chmod(tmp, existing.st_mode & 0o7777 if existing is not None else 0o666 & ~_umask())
    os.replace(tmp, target)
