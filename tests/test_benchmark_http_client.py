"""The load client the annotation benchmark uses, against a real HTTP server."""

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from benchmarks._http_client import Connection, ProtocolError


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless told otherwise

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"0\r\n\r\n")
            return
        reply = json.dumps({
            "path": self.path, "body": body.decode(), "auth": self.headers["Authorization"],
            "port": self.client_address[1],
        }).encode()
        status = 204 if self.path == "/empty" else 201
        self.send_response(status)
        if self.path == "/close":
            self.send_header("Connection", "close")
        if status != 204:
            self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        if status != 204:
            self.wfile.write(reply)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address
    httpd.shutdown()
    httpd.server_close()


def test_requests_reuse_one_connection_and_carry_json_and_headers(server):
    async def scenario():
        connection = Connection(*server, headers={"Authorization": "Token abc"})
        first = await connection.request("POST", "/a", {"x": 1})
        second = await connection.request("POST", "/b")
        empty = await connection.request("POST", "/empty")
        await connection.close()
        return first, second, empty

    first, second, empty = asyncio.run(scenario())
    assert first.status == 201 and first.json()["body"] == '{"x": 1}'
    assert first.json()["auth"] == "Token abc" and second.json()["path"] == "/b"
    assert first.json()["port"] == second.json()["port"]  # same keep-alive connection
    assert empty.status == 204 and empty.body == b""


def test_a_server_closing_the_connection_is_followed_by_a_new_one(server):
    async def scenario():
        connection = Connection(*server)
        closed = await connection.request("POST", "/close")
        after = await connection.request("POST", "/after")
        await connection.close()
        return closed, after

    closed, after = asyncio.run(scenario())
    assert closed.status == 201 and after.status == 201
    assert closed.json()["port"] != after.json()["port"]


def test_chunked_replies_are_refused_loudly(server):
    async def scenario():
        connection = Connection(*server)
        try:
            await connection.request("POST", "/chunked")
        finally:
            await connection.close()

    with pytest.raises(ProtocolError, match="chunked"):
        asyncio.run(scenario())
