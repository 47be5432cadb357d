"""The example database of a search: local directory, or shared through Redis (docs/verdicts.md#profiles-and-budgets, issue 7).

One setting chooses it: the argument of :func:`make_database`, else the environment variable
``GNTK_DB`` (the CLI's ``--db`` passes its value here).

=========================  ======================================================================
setting                    database
=========================  ======================================================================
unset / empty              :class:`~hypothesis.database.DirectoryBasedExampleDatabase` in
                           Hypothesis's storage directory (``.hypothesis/examples``): the embedded
                           default, nothing else needed.
``redis://``, ``rediss://``,  :class:`~hypothesis.database.MultiplexedDatabase` of that local
``unix://`` URL            directory database and :class:`hypothesis.extra.redis.RedisExampleDatabase`
                           on the server: every worker and every later run reads the counterexamples
                           any of them saved, and each run keeps its own local copy.
``:memory:``               :class:`~hypothesis.database.InMemoryExampleDatabase` (tests).
any other string / path    a directory database at that path.
=========================  ======================================================================

Directory databases are :class:`CheckedDirectoryDatabase`: a save that fails (full disk, directory
gone or read-only) is recorded in ``write_errors`` instead of vanishing, and
:func:`check_writable_directory` lets a command fail at start when it could not save anything.
A Redis URL is checked (:func:`validate_redis_url`) before redis-py is imported.

Hypothesis replays the saved examples of a test before generating new ones, so a counterexample
saved by one worker is the first case every other worker's next search tries.  Each claim variant
has its own key (``checks.runner``), so claims never replay each other's cases.  Redis entries expire
after Hypothesis's default ``expire_after`` (8 days without a run that touches them).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Optional, Union
from urllib.parse import urlsplit, urlunsplit

from hypothesis.database import (DirectoryBasedExampleDatabase, ExampleDatabase, InMemoryExampleDatabase,
                                 MultiplexedDatabase)

from theory.errors import GntkError, GntkValueError

__all__ = ["ENV_VAR", "REDIS_SCHEMES", "DatabaseURLError", "DatabaseUnavailableError", "DatabaseWriteError",
           "CheckedDirectoryDatabase", "database_setting", "default_local_path", "is_redis_url", "redact",
           "validate_redis_url", "local_directory", "check_writable_directory", "make_database",
           "redis_database", "write_errors"]

#: The environment variable that selects the database when no argument is given.
ENV_VAR = "GNTK_DB"
#: URL schemes that select the Redis-backed database (those redis-py's ``from_url`` accepts).
REDIS_SCHEMES = ("redis", "rediss", "unix")
#: Seconds to wait for a Redis server before declaring it unreachable: a loopback or LAN server
#: answers in milliseconds, and a hunt should fail at once, not after the OS's TCP timeout.
CONNECT_TIMEOUT_S = 3.0


class DatabaseURLError(GntkValueError):
    """The database setting is a URL of a scheme we cannot use (names the setting and its value)."""


class DatabaseUnavailableError(GntkError, ConnectionError):
    """The Redis server of the setting cannot be reached, or redis-py is not installed."""


class DatabaseWriteError(GntkError, OSError):
    """A directory (example database, report) cannot be written; the message names the path."""


class CheckedDirectoryDatabase(DirectoryBasedExampleDatabase):
    """A directory database that remembers its failed writes instead of losing them in silence.

    Hypothesis's :class:`DirectoryBasedExampleDatabase` swallows every ``OSError`` of ``save`` (a full
    disk, a directory made read-only during a run), so a counterexample could be lost unnoticed.  This
    subclass checks after each ``save`` that the entry exists and, if not, appends a one-line message
    to :attr:`write_errors` (shown by ``hunt``; the counterexample itself travels in the run's result).
    Equal to a plain directory database on the same path.
    """

    def __init__(self, path) -> None:
        super().__init__(path)
        self.write_errors: list = []

    def save(self, key: bytes, value: bytes) -> None:
        super().save(key, value)
        try:  # _value_path is where the parent class writes; if it moved, we cannot tell, and say nothing
            saved = self._value_path(key, value).exists()
        except (AttributeError, OSError):
            return
        message = f"cannot save an example to the database directory {self.path}"
        if not saved and message not in self.write_errors:  # once until read: a failing disk must not fill memory
            self.write_errors.append(message)


def database_setting(url_or_path: Union[str, os.PathLike, None] = None) -> Optional[str]:
    """The effective setting: the argument if given, else ``$GNTK_DB``; ``None`` when neither is set."""
    if url_or_path is None:
        url_or_path = os.environ.get(ENV_VAR) or None
    if url_or_path is None:
        return None
    if isinstance(url_or_path, os.PathLike):
        return os.fspath(url_or_path)
    if not isinstance(url_or_path, str):
        raise TypeError(f"url_or_path must be a str, a path or None, got {type(url_or_path).__name__}")
    return url_or_path.strip() or None


def is_redis_url(setting: Optional[str]) -> bool:
    """Whether ``setting`` is a URL that selects the Redis-backed database."""
    return bool(setting) and urlsplit(setting).scheme.lower() in REDIS_SCHEMES


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and reports)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def validate_redis_url(url: str) -> str:
    """Return ``url`` if it is a well-formed Redis URL, else raise :class:`DatabaseURLError`.

    Checked without redis-py (so a bad URL gives this error even where the ``redis`` extra is not
    installed): the scheme, a host for redis/rediss, a socket path for unix, a numeric port in
    1..65535, and a database number (path ``/n`` or ``?db=n``) that is a non-negative integer.
    """
    if not is_redis_url(url):
        raise DatabaseURLError(f"url must be a {'/'.join(REDIS_SCHEMES)}:// URL, got {redact(str(url))!r}")
    parts = urlsplit(url)
    bad = lambda why: DatabaseURLError(f"{ENV_VAR}/--db: malformed Redis URL {redact(url)!r}: {why}")  # noqa: E731
    try:
        port = parts.port
    except ValueError:
        raise bad(f"port {parts.netloc.rsplit(':', 1)[-1]!r} is not an integer in 1..65535") from None
    if parts.scheme.lower() == "unix":
        if not parts.path:
            raise bad("a unix:// URL needs a socket path")
        return url
    if not parts.hostname:
        raise bad("no host")
    if port is not None and port == 0:
        raise bad("port 0")
    db = parts.path.lstrip("/")
    for item in parts.query.split("&"):
        if item.startswith("db="):
            db = item[3:]
    if db and not db.isdigit():
        raise bad(f"database number {db!r} is not a non-negative integer")
    return url


def default_local_path() -> Path:
    """Hypothesis's own example directory (``.hypothesis/examples``, or under
    ``$HYPOTHESIS_STORAGE_DIRECTORY``), so our runs and plain Hypothesis runs share one local copy."""
    from hypothesis.configuration import storage_directory

    where = storage_directory("examples", intent_to_write=False)
    return Path(getattr(where, "path", where))  # a StorageDirectory in recent Hypothesis, a Path before


def redis_database(url: str, *, ping: bool = True) -> ExampleDatabase:
    """:class:`hypothesis.extra.redis.RedisExampleDatabase` on the server of ``url``.

    With ``ping`` the server is contacted now, so an unreachable server is reported at once
    (:class:`DatabaseUnavailableError`) instead of as an error in the middle of a search.
    """
    validate_redis_url(url)  # before the import: a bad URL is reported without redis-py too
    try:
        import redis
        from hypothesis.extra.redis import RedisExampleDatabase
    except ImportError as exc:
        raise DatabaseUnavailableError(f"a Redis database ({redact(url)}) needs redis-py: "
                                       f"pip install 'gntk-checks[redis]' ({exc})") from None
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S)
    except ValueError as exc:  # redis-py's message for a malformed URL
        raise DatabaseURLError(f"{ENV_VAR}/--db: malformed Redis URL {redact(url)!r}: {exc}") from None
    if ping:
        try:
            client.ping()
        except redis.RedisError as exc:
            raise DatabaseUnavailableError(f"cannot reach the Redis server at {redact(url)}: {exc}") from None
    return RedisExampleDatabase(client)


def make_database(url_or_path: Union[str, os.PathLike, None] = None, *,
                  local_path: Union[str, os.PathLike, None] = None, ping: bool = True) -> ExampleDatabase:
    """The example database chosen by ``url_or_path`` or ``$GNTK_DB`` (module docstring table).

    Parameters
    ----------
    url_or_path : str, path or None
        A redis://, rediss:// or unix:// URL (shared database), ``":memory:"``, or a directory.
        ``None``: the environment variable ``GNTK_DB``, else the local default.
    local_path : str, path or None
        The local directory kept beside a Redis database, and the default database; ``None``:
        :func:`default_local_path`.
    ping : bool
        Contact a Redis server now (see :func:`redis_database`).

    Returns
    -------
    hypothesis.database.ExampleDatabase
    """
    setting = database_setting(url_or_path)
    if local_path is not None and not isinstance(local_path, (str, os.PathLike)):
        raise TypeError(f"local_path must be a str, a path or None, got {type(local_path).__name__}")
    local = Path(local_path) if local_path is not None else None
    if setting is None:
        return CheckedDirectoryDatabase(local or default_local_path())
    if setting == ":memory:":
        return InMemoryExampleDatabase()
    if is_redis_url(setting):
        shared = redis_database(setting, ping=ping)
        return MultiplexedDatabase(CheckedDirectoryDatabase(local or default_local_path()), shared)
    if "://" in setting:
        raise DatabaseURLError(f"{ENV_VAR}/--db must be a directory or a {'/'.join(REDIS_SCHEMES)}:// URL, "
                               f"got {redact(setting)!r}")
    return CheckedDirectoryDatabase(setting)


def local_directory(url_or_path: Union[str, os.PathLike, None] = None, *,
                    local_path: Union[str, os.PathLike, None] = None) -> Optional[Path]:
    """The local directory the database of this setting writes to (``None`` for ``:memory:``)."""
    setting = database_setting(url_or_path)
    if setting == ":memory:":
        return None
    if setting is None or is_redis_url(setting):
        return Path(local_path) if local_path is not None else default_local_path()
    return Path(setting)


def check_writable_directory(path: Union[str, os.PathLike], what: str = "directory") -> Path:
    """Create ``path`` if needed and prove it writable by writing and removing a probe file.

    Raises :class:`DatabaseWriteError` naming ``what`` and the path (a regular file in the way, a
    read-only file system, missing permission).  Permission bits alone do not stop root, so the
    probe is a real write, not an ``os.access`` query.
    """
    path = Path(path)
    try:
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(f"{path} is not a directory")
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".gntk-write-probe-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise DatabaseWriteError(f"cannot write the {what} {path}: {why}") from None
    return path


def write_errors(database) -> list:
    """The failed writes a database (or any database it multiplexes) has recorded so far."""
    found = list(getattr(database, "write_errors", ()))
    for inner in getattr(database, "_wrapped", ()):
        found += write_errors(inner)
    return found
