"""Exceptions of the control-plane client.

The server answers every refusal as ``{"error": {"code", "message", "path"}}``; each code a
trainer must react to differently gets its own class, so callers catch what they mean
(``except RunNotFoundError``) instead of parsing messages. Every message names the server URL
and, where there is one, the run id: the two things a user gets wrong.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

PathItem = Union[str, int]


class InfoBatchError(Exception):
    """Base class of everything this package raises about the control plane."""


class ServerUnreachableError(InfoBatchError):
    """No HTTP answer after every retry (connection refused, reset, timed out)."""

    def __init__(
        self, url: str, attempts: int, seconds: float, cause: BaseException, note: str = ""
    ) -> None:
        self.url = url
        self.attempts = attempts
        self.cause = cause
        super().__init__(
            f"cannot reach the InfoBatch control plane at {url} "
            f"({attempts} attempt{'s' if attempts != 1 else ''} over {seconds:.1f} s; "
            f"last error: {describe(cause)}). Is the server running (`npm run serve`) and is the "
            f"URL right?{note}"
        )


class ApiError(InfoBatchError):
    """A 4xx/5xx answer with the server's error code, message and path."""

    def __init__(
        self,
        *,
        method: str,
        url: str,
        status: int,
        code: str,
        message: str,
        path: Sequence[PathItem] = (),
        run_id: Optional[str] = None,
        text: Optional[str] = None,
    ) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.code = code
        self.server_message = message
        self.path = list(path)
        self.run_id = run_id
        where = f" at {'.'.join(str(p) for p in self.path)}" if self.path else ""
        super().__init__(text or f"{method} {url} -> {status} {code}: {message}{where}")


class RunNotFoundError(ApiError):
    """The server has no run with this id (wrong id, or another server / database)."""


class EndpointNotFoundError(ApiError):
    """The server has no such route: it is older than this client."""


class UnauthorizedError(ApiError):
    """Missing or wrong bearer token (pass ``token=`` or set ``INFOBATCH_TOKEN``)."""


class EpochNotOpenError(ApiError):
    """The epoch's plan is not open yet: an earlier epoch still waits for losses."""


class EpochClosedError(ApiError):
    """The epoch was already closed: reports for it are no longer taken."""


class RunNotRunningError(ApiError):
    """The run is completed or cancelled."""


class ConflictingReportError(ApiError):
    """The same (epoch, step, rank) was reported before with other ids or losses."""


CODES: dict[str, type[ApiError]] = {
    "not_found": EndpointNotFoundError,
    "unauthorized": UnauthorizedError,
    "epoch_not_open": EpochNotOpenError,
    "epoch_closed": EpochClosedError,
    "run_not_running": RunNotRunningError,
    "conflicting_report": ConflictingReportError,
}


def describe(error: BaseException) -> str:
    """A one-line description of a low-level error (urllib nests the real cause in `reason`)."""
    reason = getattr(error, "reason", None)
    if isinstance(reason, BaseException):
        return f"{type(reason).__name__}: {reason}"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
