"""HTTP client of the InfoBatch control plane, on the standard library only (urllib).

Why retries are safe here: the server applies a request whole or not at all, and a loss report is
idempotent on (epoch, step, rank): a retried report whose first attempt did land is answered
``duplicate`` and changes nothing. So GETs and loss reports are retried on connection errors and
5xx answers with exponential backoff. Requests that are not idempotent (creating a run, an
evaluation) are retried only when the server certainly never saw them (connection refused), so a
lost answer never creates a second run.

The client needs no torch: a trainer in any framework can use it. Loopback URLs bypass
``$http_proxy``.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import random
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from array import array
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

from .errors import (
    CODES,
    ApiError,
    EndpointNotFoundError,
    EpochClosedError,
    EpochNotOpenError,
    RunNotFoundError,
    ServerUnreachableError,
)

Json = Any


@dataclass(frozen=True)
class Share:
    """One rank's share of an epoch's plan: example ids in training order, and their weights."""

    epoch: int
    rank: int
    #: None when the request did not name it (the run's world applies).
    world: Optional[int]
    ids: Sequence[int]
    weights: Sequence[float]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class ReportOutcome:
    """What the server did with a loss report.

    ``applied`` is False for a duplicate (the same report had landed before, e.g. the answer to a
    first attempt was lost) and when a retry found the epoch already closed (``epoch_closed``
    True: the losses of a closed epoch are not taken, whoever closed it).
    """

    applied: bool
    duplicate: bool
    epoch_closed: bool
    attempts: int


class ControlPlaneClient:
    """A client of one control plane.

    Args:
        url: Base URL, e.g. ``http://127.0.0.1:8787``.
        token: Bearer token. Default: ``$INFOBATCH_TOKEN`` when set, else none.
        timeout: Seconds to wait for one answer. Default 30.
        retries: Extra attempts after a failed one (connection errors, 5xx). Default 6.
        backoff: First wait in seconds; it doubles per attempt (with jitter) up to `max_backoff`.
        max_backoff: Longest wait between attempts. Default 8 s.
        sleep: Injected for tests.

    Example::

        client = ControlPlaneClient("http://127.0.0.1:8787")
        run = client.create_run({"trainer": "remote", "dataset": {"size": 1000},
                                 "engine": {"epochs": 4}, "batchSize": 16})
        share = client.plan(run["id"], epoch=0, rank=0)
    """

    def __init__(
        self,
        url: str,
        *,
        token: Optional[str] = None,
        timeout: float = 30.0,
        retries: int = 6,
        backoff: float = 0.2,
        max_backoff: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"expected an http(s) URL of the control plane, received {url!r}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, received {retries}")
        self.url = url.rstrip("/")
        self.token = token if token is not None else (os.environ.get("INFOBATCH_TOKEN") or None)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        # A private generator for jitter: the caller's global RNG state is never touched.
        self._jitter = random.Random()
        # $http_proxy applies, except to a control plane on this machine (a proxy cannot reach it).
        loopback = parsed.hostname in ("127.0.0.1", "localhost", "::1")
        self._opener = urllib.request.build_opener(
            *([urllib.request.ProxyHandler({})] if loopback else [])
        )

    # -- runs ------------------------------------------------------------------------------------

    def create_run(self, recipe: Mapping[str, Any]) -> Json:
        """POST /v1/runs. Returns the run view (``id``, ``epoch``, ``planSize``, …)."""
        return self._request("POST", "/v1/runs", body=recipe, idempotent=False)

    def get_run(self, run_id: str) -> Json:
        """GET /v1/runs/:id: status, open epoch, plan size, reported count, savings so far."""
        return self._request("GET", f"/v1/runs/{_quote(run_id)}", run_id=run_id)

    def savings(self, run_id: str) -> Json:
        """GET /v1/runs/:id/savings: the ledger per epoch and in total."""
        return self._request("GET", f"/v1/runs/{_quote(run_id)}/savings", run_id=run_id)

    def cancel(self, run_id: str) -> Json:
        """POST /v1/runs/:id/cancel (idempotent: cancelling twice is a no-op)."""
        return self._request("POST", f"/v1/runs/{_quote(run_id)}/cancel", run_id=run_id)

    # -- plans -----------------------------------------------------------------------------------

    def plan(
        self,
        run_id: str,
        epoch: int,
        rank: int,
        world: Optional[int] = None,
        *,
        wait: float = 0.0,
        poll: float = 0.05,
    ) -> Share:
        """This rank's share of epoch `epoch` (binary transfer: 8 bytes per example).

        With ``wait > 0``, an epoch that is not open yet (other ranks still report the previous
        one) is polled for up to `wait` seconds before `EpochNotOpenError` is raised.
        """
        query = {"rank": str(rank)}
        if world is not None:
            query["world"] = str(world)
        path = f"/v1/runs/{_quote(run_id)}/epochs/{int(epoch)}/plan?{urllib.parse.urlencode(query)}"
        deadline = time.monotonic() + wait
        delay = poll
        while True:
            try:
                raw = self._request(
                    "GET", path, run_id=run_id, accept="application/octet-stream", raw=True
                )
                break
            except EpochNotOpenError as error:
                if time.monotonic() + delay > deadline:
                    if wait > 0:
                        error.args = (f"{error.args[0]} (waited {wait:.0f} s{self._progress(run_id)})",)
                    raise
                self._sleep(delay)
                delay = min(1.0, delay * 1.5)
        ids, weights = decode_share(raw)
        return Share(epoch=int(epoch), rank=rank, world=world, ids=ids, weights=weights)

    def close_epoch(self, run_id: str, epoch: int) -> Json:
        """POST …/epochs/:e/close, for trainers that drop a last incomplete batch.

        Retried safely: if a retry finds the epoch closed, the first attempt (or another rank)
        closed it, which is what was asked; the run view is returned either way.
        """
        path = f"/v1/runs/{_quote(run_id)}/epochs/{int(epoch)}/close"
        try:
            return self._request("POST", path, run_id=run_id)
        except EpochClosedError:
            return self.get_run(run_id)

    # -- reports ---------------------------------------------------------------------------------

    def report_losses(
        self,
        run_id: str,
        *,
        epoch: int,
        step: int,
        rank: int,
        ids: Sequence[int],
        losses: Sequence[float],
    ) -> ReportOutcome:
        """POST /v1/runs/:id/losses with one per-example loss per id.

        `step` numbers this rank's batches within the epoch (0, 1, …): (epoch, step, rank) is the
        idempotency key, so never reuse it for other ids.
        """
        ids = [int(i) for i in ids]
        losses = [float(x) for x in losses]
        if len(ids) != len(losses):
            raise ValueError(f"expected one loss per id: {len(ids)} ids, {len(losses)} losses")
        for i, loss in zip(ids, losses):
            if not math.isfinite(loss):
                raise ValueError(
                    f"loss of example {i} is {loss}: the server takes finite losses only "
                    "(check the batch for an example without target tokens, or a diverged step)"
                )
        body = {"epoch": int(epoch), "step": int(step), "rank": int(rank), "ids": ids, "losses": losses}
        return self._report(run_id, body)

    def report_token_losses(
        self,
        run_id: str,
        *,
        epoch: int,
        step: int,
        rank: int,
        ids: Sequence[int],
        token_losses: Sequence[float],
        mask: Optional[Sequence[float]] = None,
    ) -> ReportOutcome:
        """The same with per-token losses [B*T] (row-major) and an optional mask; the server takes
        each row's masked mean."""
        body: dict[str, Any] = {
            "epoch": int(epoch),
            "step": int(step),
            "rank": int(rank),
            "ids": [int(i) for i in ids],
            "tokenLosses": [float(x) for x in token_losses],
        }
        if mask is not None:
            body["mask"] = [float(x) for x in mask]
        return self._report(run_id, body)

    def report_evaluation(
        self,
        run_id: str,
        *,
        epoch: int,
        held_out_loss: float,
        train_loss: Optional[float] = None,
        tokens: Optional[int] = None,
        seconds: Optional[float] = None,
    ) -> Json:
        """POST /v1/runs/:id/evaluations: held-out loss after epoch `epoch` (for curves and the
        report). Raises `EndpointNotFoundError` on a server without the route."""
        body: dict[str, Any] = {"epoch": int(epoch), "heldOutLoss": float(held_out_loss)}
        if train_loss is not None:
            body["trainLoss"] = float(train_loss)
        if tokens is not None:
            body["tokens"] = int(tokens)
        if seconds is not None:
            body["seconds"] = float(seconds)
        return self._request(
            "POST", f"/v1/runs/{_quote(run_id)}/evaluations", body=body, run_id=run_id, idempotent=False
        )

    # -- transport -------------------------------------------------------------------------------

    def _report(self, run_id: str, body: Mapping[str, Any]) -> ReportOutcome:
        attempts = [0]
        try:
            answer = self._request(
                "POST", f"/v1/runs/{_quote(run_id)}/losses", body=body, run_id=run_id, attempts=attempts
            )
        except EpochClosedError:
            if attempts[0] <= 1:
                raise
            # Only a retry gets here: the first attempt may have landed and closed the epoch.
            return ReportOutcome(applied=False, duplicate=False, epoch_closed=True, attempts=attempts[0])
        return ReportOutcome(
            applied=bool(answer["applied"]),
            duplicate=bool(answer["duplicate"]),
            epoch_closed=bool(answer["epochClosed"]),
            attempts=attempts[0],
        )

    def _progress(self, run_id: str) -> str:
        """`; epoch 2 is open with 90 of 100 examples reported`, or nothing if that fails too."""
        try:
            run = self.get_run(run_id)
        except Exception:  # noqa: BLE001 - only decorates another error's message
            return ""
        return (
            f"; epoch {run['epoch']} is open with {run['reported']} of {run['planSize']} examples "
            "reported: a rank is still training it, or a trainer that drops its last incomplete "
            "batch did not POST .../close"
        )

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: Optional[Mapping[str, Any]] = None,
        run_id: Optional[str] = None,
        accept: str = "application/json",
        raw: bool = False,
        idempotent: bool = True,
        attempts: Optional[list[int]] = None,
    ) -> Any:
        url = self.url + path
        data = None
        headers = {"accept": accept}
        if body is not None:
            data = json.dumps(body, allow_nan=False, separators=(",", ":")).encode()
            headers["content-type"] = "application/json"
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            if attempts is not None:
                attempts[0] = attempt
            request = urllib.request.Request(url, data=data, method=method, headers=headers)
            try:
                with self._opener.open(request, timeout=self.timeout) as response:
                    payload = response.read()
                return payload if raw else json.loads(payload)
            except urllib.error.HTTPError as error:
                failure = self._api_error(method, url, error, run_id)
                retriable = error.code >= 500 and idempotent
                if not retriable or attempt > self.retries:
                    raise failure from None
            except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
                if not (idempotent or _never_sent(error)):
                    raise ServerUnreachableError(
                        self.url,
                        attempt,
                        time.monotonic() - started,
                        error,
                        f" {method} {path} may have been applied; it is not retried because it "
                        "is not idempotent.",
                    ) from error
                if attempt > self.retries:
                    raise ServerUnreachableError(
                        self.url, attempt, time.monotonic() - started, error
                    ) from error
            wait = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
            self._sleep(wait * (0.5 + self._jitter.random()))

    def _api_error(
        self, method: str, url: str, error: urllib.error.HTTPError, run_id: Optional[str]
    ) -> ApiError:
        try:
            detail = json.loads(error.read())["error"]
            code, message, path = str(detail["code"]), str(detail["message"]), detail.get("path", [])
        except Exception:  # noqa: BLE001 - a proxy's HTML page, an empty body, …
            code, message, path = f"http_{error.code}", error.reason or "no JSON error body", []
        fields = dict(method=method, url=url, status=error.code, code=code, message=message, path=path)
        if code == "unknown_run":
            return RunNotFoundError(
                **fields,
                run_id=run_id,
                text=(
                    f"run {run_id!r} does not exist on the control plane at {self.url} "
                    f"({method} {url} -> {error.code} unknown_run). Check the run id, and that "
                    "the trainer talks to the server (and database) that created the run."
                ),
            )
        if code == "not_found":
            return EndpointNotFoundError(
                **fields,
                run_id=run_id,
                text=(
                    f"the control plane at {self.url} has no route {method} "
                    f"{urllib.parse.urlparse(url).path}: is it older than this client?"
                ),
            )
        return CODES.get(code, ApiError)(**fields, run_id=run_id)


def decode_share(payload: bytes) -> tuple[array, array]:
    """The plan's binary form: little-endian u32 n, n u32 ids, n f32 weights."""
    if len(payload) < 4:
        raise ValueError(f"plan payload of {len(payload)} bytes is shorter than its header")
    n = int.from_bytes(payload[:4], "little")
    if len(payload) != 4 + 8 * n:
        raise ValueError(f"plan payload of {len(payload)} bytes does not hold {n} ids and weights")
    ids = array("I")
    weights = array("f")
    if ids.itemsize != 4 or weights.itemsize != 4:
        raise RuntimeError("this platform's array('I') / array('f') are not 4 bytes wide")
    ids.frombytes(payload[4 : 4 + 4 * n])
    weights.frombytes(payload[4 + 4 * n :])
    if sys.byteorder == "big":
        ids.byteswap()
        weights.byteswap()
    return ids, weights


def _quote(run_id: str) -> str:
    return urllib.parse.quote(str(run_id), safe="")


def _never_sent(error: BaseException) -> bool:
    """True when the request cannot have reached the server (refused, no route, bad host)."""
    reason = getattr(error, "reason", error)
    return isinstance(reason, (ConnectionRefusedError, socket.gaierror))
