"""The SOAP 1.1 reader: a web service of the district's 数据共享交换平台 style, read page by page.

It is the HTTP reader (``HttpSourceClient``: retries with backoff, deadlines, page limit, the
page loop that restarts a window whose total changed, a page served twice refused) with another
request: each page is a POST of a SOAP envelope calling the entity's operation, whose path in
the spec is ``<endpoint>#<operation>`` (one service, one operation per entity). The answer is
parsed by the export reader's guarded expat (``files.xml_document``: DOCTYPE and entities
refused, nesting bounded, errors naming the element path, never a value).

Auth is WS-Security UsernameToken with PasswordDigest in the SOAP header (the connection's
login and password; the password never travels, a fresh nonce and time stamp every request).
Faults: ``Server`` (and a 5xx without a SOAP body, 429, timeouts, a broken body) is transient
and retried; ``Client`` is a configuration error and fails at once; a WS-Security fault fails
naming the connection. A body larger than ``max_body_bytes`` fails the read, naming the bound.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import time
from datetime import datetime, timezone
from typing import Any
from xml.sax.saxutils import escape

import requests

from yhlaw.readers.base import SourceError, TransientError
from yhlaw.readers.files import xml_document
from yhlaw.readers.http import HttpSourceClient, _retry_after

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST = ("http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
          "#PasswordDigest")
# WS-Security 1.0 fault codes (OASIS, section 12): the service refused who we are.
AUTH_FAULTS = {"FailedAuthentication", "InvalidSecurity", "InvalidSecurityToken", "FailedCheck",
               "SecurityTokenUnavailable", "MessageExpired", "UnsupportedSecurityToken"}
MAX_BODY_BYTES = 32 * 1024 * 1024


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """UsernameToken PasswordDigest = Base64(SHA-1(nonce + created + password))."""
    return base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()


def security_header(login: str, password: str, nonce: bytes, created: str) -> str:
    return (f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}" soap:mustUnderstand="1"><wsse:UsernameToken>'
            f"<wsse:Username>{escape(login)}</wsse:Username>"
            f'<wsse:Password Type="{DIGEST}">{password_digest(nonce, created, password)}</wsse:Password>'
            f"<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce><wsu:Created>{created}</wsu:Created>"
            "</wsse:UsernameToken></wsse:Security>")


class SoapSourceClient(HttpSourceClient):
    def __init__(self, connection, transport: dict[str, Any], **options):
        super().__init__(connection, transport, **options)
        soap = self.transport.get("soap") or {}
        self.namespace = str(soap.get("namespace") or "")
        self.records_element = str(soap.get("records", "records"))
        self.xml_options = {"lists": [*soap.get("lists", ()), self.records_element],
                            "max_depth": soap.get("max_depth", 32)}
        self.max_body = int(self.transport.get("max_body_bytes", MAX_BODY_BYTES))

    def _checked_page(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """One page as the inherited page loop wants it: ``{"total", "items"}``."""
        endpoint, _, operation = path.partition("#")
        if not operation:
            raise SourceError(f"{path}: a soap entity's path is <endpoint>#<operation>")
        where = f"{endpoint}#{operation}"
        body = self._post(self.creds.base_url + endpoint, operation, self._envelope(operation, params), where)
        page = _page(body, operation, self.records_element, where)
        if len(page["items"]) > self.page_size:
            raise TransientError("malformed", f"{where}: page larger than pageSize ({len(page['items'])})")
        return page

    def _envelope(self, operation: str, params: dict[str, Any]) -> bytes:
        nonce, created = os.urandom(16), datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        args = {"updatedSince": params["updated_since"], "updatedUntil": params["updated_until"],
                "pageNo": params["page"], "pageSize": params["page_size"]}
        body = "".join(f"<svc:{k}>{escape(str(v))}</svc:{k}>" for k, v in args.items())
        return (f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP_ENV}" '
                f'xmlns:svc="{escape(self.namespace)}"><soap:Header>'
                f"{security_header(self.creds.login, self.creds.password, nonce, created)}</soap:Header>"
                f"<soap:Body><svc:{operation}>{body}</svc:{operation}></soap:Body></soap:Envelope>").encode()

    def _post(self, url: str, operation: str, envelope: bytes, where: str) -> dict[str, Any]:
        """POST one envelope; the parsed answer, or the fault as an error of the right kind."""
        self.stats.requests += 1
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{self.namespace}{operation}"'}
        try:
            resp = self.session.post(url, data=envelope, headers=headers, timeout=self.timeout, stream=True)
            self._read_body(resp, url)
        except requests.Timeout as exc:
            raise TransientError("timeout", f"no answer within {self.timeout}s: {where}") from exc
        except requests.ConnectionError as exc:
            raise TransientError("connection", f"{where}: connection failed: {type(exc).__name__}") from exc
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
            raise TransientError("reset", f"{where}: connection broken while reading the response") from exc
        status = resp.status_code
        if status == 429:
            raise TransientError("429", "rate limited", _retry_after(resp.headers.get("Retry-After")))
        if status in (401, 403):
            raise self._refused(where, f"HTTP {status}")
        if status not in (200, 500):      # SOAP 1.1 answers a fault with 500; 502/503 are the gateway
            if status > 500:
                raise TransientError("5xx", f"HTTP {status} from {where}")
            raise SourceError(f"HTTP {status} from {where} ({len(resp.content)} bytes)")
        try:
            document = xml_document(resp.content, where, self.xml_options)
        except SourceError as exc:        # a 502 page, a cut body: the next attempt may be whole
            raise TransientError("5xx" if status == 500 else "malformed", str(exc)) from exc
        return self._body(document, where)

    def _read_body(self, resp: requests.Response, url: str) -> None:
        """The whole body within the request's deadline (as the HTTP reader) and within
        ``max_body_bytes``: a page holds page_size records, a body far larger is hostile or broken."""
        if resp.raw is None:
            return
        deadline, chunks, size = time.monotonic() + self.request_deadline, [], 0
        for chunk in resp.iter_content(chunk_size=65536):
            chunks.append(chunk)
            size += len(chunk)
            if size > self.max_body:
                resp.close()
                raise SourceError(f"{url}: the answer exceeds max_body_bytes ({self.max_body}); "
                                  "lower page_size or raise the bound")
            if time.monotonic() > deadline:
                resp.close()
                raise TransientError("slow", f"{url}: the body took longer than {self.request_deadline:.0f}s")
        resp._content = b"".join(chunks)

    def _body(self, document: dict[str, Any], where: str) -> dict[str, Any]:
        envelope = document.get("Envelope")
        body = envelope.get("Body") if isinstance(envelope, dict) else None
        if not isinstance(body, dict):
            raise TransientError("malformed", f"{where}: the answer is not a SOAP envelope with a Body")
        fault = body.get("Fault")
        if fault is not None:
            raise self._fault(fault if isinstance(fault, dict) else {}, where)
        return body

    def _fault(self, fault: dict[str, Any], where: str) -> Exception:
        code = str(fault.get("faultcode") or "").rsplit(":", 1)[-1]
        said = _fault_text(fault.get("faultstring"))
        if code in AUTH_FAULTS or code.startswith("Client.Auth"):
            return self._refused(where, f"fault {code}")
        if code == "Server" or code.startswith("Server."):
            return TransientError("soap_fault", f"{where}: SOAP fault {code}: {said}")
        return SourceError(f"{where}: SOAP fault {code or '(no faultcode)'}: {said} (a request the service "
                           "refuses; not retried)")

    def _refused(self, where: str, what: str) -> SourceError:
        return SourceError(f"{where}: the service refused our WS-Security credentials ({what}); check the login "
                           f"and password of the source's Airflow connection (login {self.creds.login!r} at "
                           f"{self.creds.base_url})")


def _page(body: dict[str, Any], operation: str, records: str, where: str) -> dict[str, Any]:
    """``{"total", "items"}`` from ``<operationResponse><total/><records>…</records>``."""
    answer = body.get(f"{operation}Response")
    if not isinstance(answer, dict):
        raise TransientError("malformed", f"{where}: no <{operation}Response> in the SOAP Body")
    total = answer.get("total")
    if not (isinstance(total, str) and total.strip().isdigit()):
        raise TransientError("malformed", f"{where}: <total> is not a count")
    items = answer.get(records)
    items = [] if items is None else items
    if not isinstance(items, list):
        raise TransientError("malformed", f"{where}: <{records}> is not a list of records")
    return {"total": int(total), "items": [i if isinstance(i, dict) else {} for i in items]}


def _fault_text(text: Any) -> str:
    """The fault string, short and with long digit runs masked (a service may echo an ID number)."""
    said = re.sub(r"\d{6,}", "…", str(text or "")).replace("\n", " ")
    return said[:120] or "(no faultstring)"
