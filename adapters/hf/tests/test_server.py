"""The client against a real control plane: retries that idempotency makes harmless, clear errors
for an unknown run and an unreachable server, waiting for an epoch to open, evaluations.

Needs INFOBATCH_URL (and INFOBATCH_TOKEN when the server has one); hf.test.ts starts the server:

    INFOBATCH_URL=http://127.0.0.1:8787 PYTHONPATH=adapters/hf python3 -m unittest adapters/hf/tests/test_server.py
"""

from __future__ import annotations

import http.server
import os
import socket
import threading
import unittest
import urllib.error
import urllib.request
from typing import Any, Optional

from infobatch_hf import (
    ConflictingReportError,
    ControlPlaneClient,
    EndpointNotFoundError,
    EpochNotOpenError,
    RunNotFoundError,
    ServerUnreachableError,
    UnauthorizedError,
)

URL = os.environ.get("INFOBATCH_URL", "")
TOKEN = os.environ.get("INFOBATCH_TOKEN") or None


class FlakyProxy:
    """A loopback proxy to the server that misbehaves on chosen requests.

    `faults` maps a path fragment to a list of actions consumed one per matching request:
    "drop" forwards the request and then closes the connection without answering (the server
    applied it, the client never hears), "503" answers 503 without forwarding.
    """

    def __init__(self, target: str, faults: dict[str, list[str]]) -> None:
        self.target = target
        self.faults = faults
        self.hits: list[str] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                proxy.hits.append(f"{self.command} {self.path}")
                action = proxy._action(self.path)
                if action == "503":
                    self._answer(503, b'{"error":{"code":"unavailable","message":"proxy","path":[]}}')
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                request = urllib.request.Request(proxy.target + self.path, data=body, method=self.command, headers=headers)
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        status, payload = response.status, response.read()
                except urllib.error.HTTPError as error:
                    status, payload = error.code, error.read()
                if action == "drop":
                    self.close_connection = True  # applied upstream, no answer here
                    return
                self._answer(status, payload)

            def _answer(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _action(self, path: str) -> Optional[str]:
        for fragment, actions in self.faults.items():
            if fragment in path and actions:
                return actions.pop(0)
        return None

    def __enter__(self) -> "FlakyProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@unittest.skipUnless(URL, "INFOBATCH_URL is not set")
class ServerTest(unittest.TestCase):
    def setUp(self) -> None:
        self.client = ControlPlaneClient(URL, token=TOKEN, retries=3, backoff=0.01)
        self.run = self.client.create_run(
            {"name": "client-test", "trainer": "remote", "dataset": {"size": 40}, "engine": {"epochs": 4, "seed": 3}, "batchSize": 8}
        )
        self.share = self.client.plan(self.run["id"], 0, 0)

    def report(self, client: ControlPlaneClient, step: int, losses: Optional[list[float]] = None) -> Any:
        ids = list(self.share.ids[step * 8 : step * 8 + 8])
        return client.report_losses(
            self.run["id"], epoch=0, step=step, rank=0, ids=ids,
            losses=losses or [0.5 + 0.1 * (i % 7) for i in ids],
        )

    def test_a_retried_report_whose_answer_was_lost_is_applied_once(self) -> None:
        with FlakyProxy(URL, {"/losses": ["drop"]}) as proxy:
            flaky = ControlPlaneClient(proxy.url, token=TOKEN, retries=3, backoff=0.01)
            outcome = self.report(flaky, 0)
        self.assertEqual(len(proxy.hits), 2, proxy.hits)  # the first attempt landed, then a retry
        self.assertEqual((outcome.applied, outcome.duplicate, outcome.attempts), (False, True, 2))
        self.assertEqual(self.client.get_run(self.run["id"])["reported"], 8)
        again = self.report(self.client, 0)
        self.assertEqual((again.applied, again.duplicate), (False, True))
        with self.assertRaises(ConflictingReportError):
            self.report(self.client, 0, [9.0] * 8)
        self.assertEqual(self.client.get_run(self.run["id"])["reported"], 8)

    def test_5xx_answers_are_retried(self) -> None:
        with FlakyProxy(URL, {"/plan": ["503", "503"], "/losses": ["503"]}) as proxy:
            flaky = ControlPlaneClient(proxy.url, token=TOKEN, retries=3, backoff=0.01)
            share = flaky.plan(self.run["id"], 0, 0)
            outcome = self.report(flaky, 1)
        self.assertEqual(list(share.ids), list(self.share.ids))
        self.assertEqual((outcome.applied, outcome.attempts), (True, 2))

    def test_an_unknown_run_names_the_run_and_the_server(self) -> None:
        with self.assertRaises(RunNotFoundError) as caught:
            self.client.get_run("no-such-run")
        message = str(caught.exception)
        self.assertIn("'no-such-run'", message)
        self.assertIn(URL, message)
        with self.assertRaises(RunNotFoundError):
            self.client.plan("no-such-run", 0, 0)

    def test_an_unreachable_server_is_named_after_the_retries(self) -> None:
        url = f"http://127.0.0.1:{free_port()}"
        waits: list[float] = []
        client = ControlPlaneClient(url, retries=2, backoff=0.01, sleep=waits.append)
        with self.assertRaises(ServerUnreachableError) as caught:
            client.get_run("anything")
        self.assertIn(url, str(caught.exception))
        self.assertIn("3 attempts", str(caught.exception))
        self.assertEqual(len(waits), 2)
        self.assertLess(waits[0], waits[1] * 1.5 + 1e-9)  # backoff grows (with jitter)

    def test_an_epoch_that_is_not_open_is_waited_for(self) -> None:
        with self.assertRaises(EpochNotOpenError):
            self.client.plan(self.run["id"], 1, 0)
        with self.assertRaisesRegex(EpochNotOpenError, "0 of 40 examples reported"):
            self.client.plan(self.run["id"], 1, 0, wait=0.2)
        steps = range(len(self.share.ids) // 8)
        threading.Timer(0.3, lambda: [self.report(self.client, s) for s in steps]).start()
        share = self.client.plan(self.run["id"], 1, 0, wait=30)
        self.assertLess(len(share.ids), 40)  # the epoch closed and epoch 1 pruned

    def test_evaluations_are_reported(self) -> None:
        try:
            answer = self.client.report_evaluation(self.run["id"], epoch=0, held_out_loss=2.5, train_loss=2.4, tokens=100, seconds=1.5)
        except EndpointNotFoundError as error:
            self.skipTest(f"this server has no evaluations route yet: {error}")
        self.assertIsInstance(answer, dict)

    @unittest.skipUnless(TOKEN, "the server has no token")
    def test_a_missing_token_is_refused(self) -> None:
        with self.assertRaises(UnauthorizedError):
            ControlPlaneClient(URL, token="").get_run(self.run["id"])


if __name__ == "__main__":
    unittest.main()
