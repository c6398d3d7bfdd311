"""`nanlint server` driven over stdio with real LSP JSON-RPC messages."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from queue import Empty, Queue
from typing import Any

import pytest

SOURCE = (
    "import torch\n\n\n"
    "def f(a, b):\n"
    "    d = a.sum() - b.sum()\n"
    "    s = '\U0001d700'; return a / d  # noqa: NAN102\n"
)


class Client:
    """A minimal LSP client: Content-Length framing over the server's stdin/stdout."""

    def __init__(self, cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nanlint", "server"], cwd=cwd,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.messages: Queue[dict[str, Any]] = Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = None
            while True:
                header = stream.readline()
                if not header:
                    return
                if header in (b"\r\n", b"\n"):
                    break
                name, _, value = header.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            assert length is not None
            self.messages.put(json.loads(stream.read(length)))

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.process.stdin is not None
        self.process.stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode("ascii") + body)
        self.process.stdin.flush()

    def request(self, method: str, params: dict[str, Any]) -> Any:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        reply = self.wait(lambda m: m.get("id") == self.next_id and "method" not in m)
        assert "error" not in reply, reply
        return reply["result"]

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self.send({"method": method, "params": params})

    def wait(self, matches: Any, timeout: float = 30) -> dict[str, Any]:
        while True:
            try:
                message = self.messages.get(timeout=timeout)
            except Empty:
                raise AssertionError("the server did not answer in time") from None
            if matches(message):
                return message

    def diagnostics(self, uri: str) -> list[dict[str, Any]]:
        message = self.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri)
        return message["params"]["diagnostics"]


@pytest.fixture
def client(tmp_path):
    session = Client(tmp_path)
    yield session
    if session.process.poll() is None:
        session.process.kill()
    session.process.wait(timeout=10)


def test_diagnostics_on_open_change_save_and_fixes_as_code_actions(client, tmp_path):
    path = tmp_path / "model.py"
    path.write_text(SOURCE, encoding="utf-8")
    uri = path.as_uri()
    result = client.request("initialize", {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}})
    assert result["serverInfo"]["name"] == "nanlint"
    assert result["capabilities"]["codeActionProvider"]
    client.notify("initialized", {})

    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": SOURCE}})
    division, unused = client.diagnostics(uri)
    assert (division["code"], division["severity"], division["source"]) == ("NAN101", 1, "nanlint")
    # 0-based, in UTF-16 units (the epsilon before it is two): the CLI says 6:21 in code points.
    assert division["range"] == {"start": {"line": 5, "character": 21}, "end": {"line": 5, "character": 26}}
    assert unused["code"] == "NAN003" and unused["severity"] == 2
    assert division["codeDescription"]["href"].endswith("rules/NAN101.md")

    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": unused["range"], "context": {"diagnostics": [unused]},
    })
    [action] = actions
    assert action["kind"] == "quickfix" and action["isPreferred"] is True
    [edit] = action["edit"]["changes"][uri]
    assert edit == {"range": {"start": {"line": 5, "character": 26}, "end": {"line": 5, "character": 42}}, "newText": ""}

    fixed = SOURCE.replace("  # noqa: NAN102", "")
    client.notify("textDocument/didChange", {
        "textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": fixed}],
    })
    assert [d["code"] for d in client.diagnostics(uri)] == ["NAN101"]

    guarded = fixed.replace("a / d", "a / d.clamp_min(1e-6)")
    client.notify("textDocument/didChange", {
        "textDocument": {"uri": uri, "version": 3}, "contentChanges": [{"text": guarded}],
    })
    assert client.diagnostics(uri) == []
    client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
    assert client.diagnostics(uri) == []

    assert client.request("shutdown", None) is None
    client.notify("exit", None)
    assert client.process.wait(timeout=10) == 0


def test_the_server_follows_the_project_configuration(client, tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.nanlint]\nignore = ['NAN101']\n")
    path = tmp_path / "model.py"
    uri = path.as_uri()
    client.request("initialize", {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}})
    client.notify("initialized", {})
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": SOURCE}})
    assert [d["code"] for d in client.diagnostics(uri)] == ["NAN003"]
