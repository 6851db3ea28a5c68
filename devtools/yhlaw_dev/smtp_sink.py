"""A local SMTP server that keeps what it is sent: the mail relay of the tests and of
``make airflow`` (mails land in a folder, one ``.eml`` file each, instead of anyone's inbox).

Speaks enough of RFC 5321 for Python's smtplib and Airflow's SMTP clients (EHLO/HELO, MAIL,
RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT); no TLS, no auth.
"""

from __future__ import annotations

import email
import email.policy
import socketserver
import threading
from email.message import EmailMessage
from pathlib import Path


class _Session(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write((line + "\r\n").encode())

    def handle(self) -> None:
        self.reply("220 yhlaw-smtp-sink ready")
        sender, recipients = None, []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            verb = raw.decode("utf-8", "replace").strip().split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.reply("250-yhlaw-smtp-sink")
                self.reply("250 8BITMIME")
            elif verb in ("HELO", "NOOP"):
                self.reply("250 ok")
            elif verb == "MAIL":
                sender, recipients = raw.decode().split(":", 1)[1].strip(), []
                self.reply("250 ok")
            elif verb == "RCPT":
                recipients.append(raw.decode().split(":", 1)[1].strip().strip("<>"))
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                self.server.keep(self._read_data(), sender, recipients)
                self.reply("250 queued")
            elif verb == "RSET":
                sender, recipients = None, []
                self.reply("250 ok")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")

    def _read_data(self) -> bytes:
        lines = []
        while True:
            line = self.rfile.readline()
            if line in (b".\r\n", b".\n", b""):
                return b"".join(lines)
            lines.append(line[1:] if line.startswith(b"..") else line)


class SmtpSink(socketserver.ThreadingTCPServer):
    """``with SmtpSink() as sink: ...`` serves on 127.0.0.1:``sink.port`` in a thread;
    ``sink.messages`` holds every mail received (and ``folder``, if given, one file each)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 0, folder: Path | None = None) -> None:
        super().__init__(("127.0.0.1", port), _Session)
        self.port = self.server_address[1]
        self.folder = folder
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()

    def keep(self, data: bytes, sender: str | None, recipients: list[str]) -> None:
        message = email.message_from_bytes(data, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
            if self.folder is not None:
                self.folder.mkdir(parents=True, exist_ok=True)
                (self.folder / f"{len(self.messages):05d}.eml").write_bytes(data)

    def __enter__(self) -> "SmtpSink":
        threading.Thread(target=self.serve_forever, name="smtp-sink", daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()
