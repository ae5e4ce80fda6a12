"""The app server as a browser elsewhere meets it: only this machine's names are answered
(server.allowedHosts in .streamlit/config.toml), so a page on another site whose name is made to
resolve to 127.0.0.1 (DNS rebinding) cannot open the app's session."""

from __future__ import annotations

import base64
import os
import socket


def handshake(port: int, host: str) -> str:
    """The status line the server answers a WebSocket opening of the app's session with, sent to
    127.0.0.1:`port` with the Host header `host` (what a browser sends for the name it resolved)."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: streamlit\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(request.encode())
        answer = b""
        while b"\r\n" not in answer:
            chunk = s.recv(1024)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0].decode("latin-1")


ALLOWED = ["localhost:{port}", "127.0.0.1:{port}", "[::1]:{port}", "localhost"]
REFUSED = ["evil.example", "evil.example:{port}", "localhost.evil.example:{port}", "user@localhost:{port}", ""]


def test_only_this_machines_names_open_a_session(server):
    answers = {host: handshake(server.port, host.format(port=server.port)) for host in ALLOWED + REFUSED}
    for host in ALLOWED:
        assert " 101 " in answers[host], (host, answers[host])
    for host in REFUSED:
        assert answers[host].startswith("HTTP/1.1 ") and " 101 " not in answers[host], (host, answers[host])
