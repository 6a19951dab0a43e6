"""A webhook receiver for the tests: a real HTTP server on a free local port."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """An HTTP server on a free port that records each request and answers with the next status of
    ``script`` (then 200), or always with ``down[path]`` on that path."""

    def __init__(self):
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.paths: list[str] = []
        self.script: list[int] = []
        self.down: dict[str, int] = {}  # path -> the status it always answers (a receiver that is down)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers.items()), body))
                receiver.paths.append(self.path)
                status = receiver.down.get(self.path) or (receiver.script.pop(0) if receiver.script else 200)
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b'{"ok": true}' if status == 200 else b"busy")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
