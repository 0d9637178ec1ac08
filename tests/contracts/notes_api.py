"""A small notes API that authenticates the way its spec's security scheme says, to test the harness on any scheme.

``notes_spec(mode)`` is the contract (one of ``MODES``: an ``X-API-Key`` header, HTTP basic, a query key, OAuth2
client credentials); ``NotesApi(mode)`` is a WSGI app honouring it: two tenants, a full, a read-only and an
expired credential for the first, a full one for the second. ``refuse_all=True`` is the faulty variant that
answers 401 to every request however it is authenticated. ``seen`` records the credential-carrying parts of
every request (header names, query names, cookies), so tests can tell how the harness sent what.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import threading
from typing import Any

from werkzeug.wrappers import Request, Response

MODES = ("apikey", "basic", "query", "oauth2")
PREFIX = "/v1"
SERVER = "https://notes.example.com/v1"  # the spec's server: the harness must move the tokenUrl onto the base URL
KEYS = {  # credential as given to the harness -> (tenant, may write); expired credentials are listed apart
    "apikey": {"nk_full_alpha": ("alpha", True), "nk_read_alpha": ("alpha", False), "nk_full_beta": ("beta", True)},
    "basic": {"alice:alice-pw": ("alpha", True), "reader:reader-pw": ("alpha", False), "bob:bob-pw": ("beta", True)},
    "oauth2": {
        "cid_alpha:cs_alpha": ("alpha", True),
        "cid_reader:cs_reader": ("alpha", False),
        "cid_beta:cs_beta": ("beta", True),
    },
}
KEYS["query"] = KEYS["apikey"]
EXPIRED = {"apikey": "nk_expired_alpha", "query": "nk_expired_alpha", "basic": "old:old-pw", "oauth2": "at_expired_1"}
ROLES = ("full", "readonly", "other")

_SCHEMES: dict[str, dict[str, Any]] = {
    "apikey": {"ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
    "basic": {"basicAuth": {"type": "http", "scheme": "basic"}},
    "query": {"keyParam": {"type": "apiKey", "in": "query", "name": "api_key"}},
    "oauth2": {
        "oauth": {
            "type": "oauth2",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": f"{SERVER}/oauth/token",
                    "scopes": {"notes:read": "Read notes.", "notes:write": "Write notes."},
                }
            },
        }
    },
}


def keys_for(mode: str) -> dict[str, str]:
    """The credentials of every role for ``mode``, as ``Keys(**...)`` takes them."""
    given = dict(zip(ROLES, KEYS[mode], strict=True))
    return {**given, "expired": EXPIRED[mode]}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def notes_spec(mode: str) -> dict[str, Any]:
    """The notes API's contract, authenticated by ``mode``'s scheme."""
    name = next(iter(_SCHEMES[mode]))
    read = [{name: ["notes:read"] if mode == "oauth2" else []}]
    write = [{name: ["notes:write"] if mode == "oauth2" else []}]
    note = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Note"}}}}
    errors = {"400": _error("Malformed request."), "401": _error("No or bad credentials."), "default": _error("Error.")}
    note_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Notes", "version": "1.0.0"},
        "servers": [{"url": SERVER}],
        "security": read,
        "paths": {
            "/health": {"get": {"operationId": "health", "security": [], "responses": {"200": {"description": "Up."}}}},
            "/notes": {
                "get": {
                    "operationId": "listNotes",
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 50}},
                        {"name": "search", "in": "query", "schema": {"type": "string", "maxLength": 100}},
                    ],
                    "responses": {
                        "200": {
                            "description": "Notes, newest first.",
                            "content": {
                                "application/json": {
                                    "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Note"}}
                                }
                            },
                        },
                        **errors,
                    },
                },
                "post": {
                    "operationId": "createNote",
                    "security": write,
                    "requestBody": {"required": True, **note},
                    "responses": {
                        "201": {"description": "Created.", **note},
                        "403": _error("Read-only."),
                        "422": _error("Invalid."),
                        **errors,
                    },
                },
            },
            "/notes/{id}": {
                "parameters": [note_id],
                "get": {
                    "operationId": "getNote",
                    "responses": {"200": {"description": "A note.", **note}, "404": _error("No such note."), **errors},
                },
                "delete": {
                    "operationId": "deleteNote",
                    "security": write,
                    "responses": {
                        "204": {"description": "Deleted."},
                        "403": _error("Read-only."),
                        "404": _error("No such note."),
                        **errors,
                    },
                },
            },
        },
        "components": {
            "securitySchemes": copy.deepcopy(_SCHEMES[mode]),
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
                },
                "Note": {
                    "type": "object",
                    "required": ["title"],
                    "properties": {
                        "id": {"type": "integer", "readOnly": True},
                        "title": {"type": "string", "minLength": 1, "maxLength": 100},
                        "body": {"type": "string", "maxLength": 1000},
                    },
                },
            },
        },
    }


class NotesApi:
    """The notes API for one ``mode`` (``refuse_all``: 401 to everything, the faulty variant)."""

    def __init__(self, mode: str, *, refuse_all: bool = False) -> None:
        self.mode = mode
        self.refuse_all = refuse_all
        self.notes: dict[int, dict[str, Any]] = {}
        self.owners: dict[int, str] = {}
        self.tokens: dict[str, tuple[str, bool]] = {}
        self.token_requests = 0
        self.seen: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:
            self.seen.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "headers": {name.lower() for name, _ in request.headers.items()},
                    "query": set(request.args),
                    "cookies": set(request.cookies),
                }
            )
            response = self.answer(request)
        return response(environ, start_response)

    def answer(self, request: Request) -> Response:
        """The response to one request."""
        path = request.path.removeprefix(PREFIX)
        if path == "/oauth/token" and request.method == "POST" and self.mode == "oauth2":
            return self.token(request)
        if path == "/health":
            return _json(200, {"status": "ok"}) if request.method == "GET" else _allow("GET")
        caller = None if self.refuse_all else self.caller(request)
        if caller is None:
            return _json(401, {"error": "unauthorized"}, **self.challenge())
        tenant, may_write = caller
        if path == "/notes":
            if request.method == "GET":
                return self.list(request, tenant)
            if request.method != "POST":
                return _allow("GET, POST")
            return self.create(request, tenant) if may_write else _forbidden()
        if path.startswith("/notes/") and path.count("/") == 2:
            if request.method not in ("GET", "DELETE"):
                return _allow("GET, DELETE")
            raw = path.rsplit("/", 1)[1]
            if not raw.isdigit() or int(raw) < 1:
                return _json(400, {"error": "bad_id"})
            note_id = int(raw)
            if request.method == "DELETE" and not may_write:
                return _forbidden()
            if self.owners.get(note_id) != tenant:
                return _json(404, {"error": "not_found"})
            if request.method == "GET":
                return _json(200, self.notes[note_id])
            del self.notes[note_id], self.owners[note_id]
            return Response(status=204)
        return _json(404, {"error": "not_found"})

    def caller(self, request: Request) -> tuple[str, bool] | None:
        """(tenant, may write) of a valid credential sent the way the mode wants, else None."""
        if self.mode == "apikey":
            return KEYS["apikey"].get(request.headers.get("X-API-Key", ""))
        if self.mode == "query":
            return KEYS["query"].get(request.args.get("api_key", ""))
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if self.mode == "basic" and scheme.lower() == "basic":
            try:
                pair = base64.b64decode(value, validate=True).decode()
            except ValueError:
                return None
            user, _, password = pair.partition(":")
            # A user and password, or an API key as the user name with an empty password (``curl -u key:``).
            return KEYS["basic"].get(pair) if password else KEYS["apikey"].get(user)
        if self.mode == "oauth2" and scheme.lower() == "bearer":
            return self.tokens.get(value)
        return None

    def challenge(self) -> dict[str, str]:
        """The WWW-Authenticate header of a 401 (only the schemes HTTP has one for)."""
        return {"basic": {"WWW-Authenticate": 'Basic realm="notes"'}, "oauth2": {"WWW-Authenticate": "Bearer"}}.get(
            self.mode, {}
        )

    def token(self, request: Request) -> Response:
        """Client credentials in the form body only (as the sandbox takes them): Basic client auth is 401."""
        self.token_requests += 1
        form = request.form
        pair = f"{form.get('client_id', '')}:{form.get('client_secret', '')}"
        if form.get("grant_type") != "client_credentials" or pair not in KEYS["oauth2"]:
            return _json(401, {"error": "invalid_client"})
        token = "at_" + secrets.token_urlsafe(12)
        self.tokens[token] = KEYS["oauth2"][pair]
        return _json(200, {"access_token": token, "token_type": "Bearer", "expires_in": 600})

    def list(self, request: Request, tenant: str) -> Response:
        """The tenant's notes, newest first, filtered by ``search``, at most ``limit``."""
        limit = request.args.get("limit", "20")
        search = request.args.get("search", "")
        if not limit.isdigit() or not 1 <= int(limit) <= 50 or len(search) > 100:
            return _json(400, {"error": "bad_query"})
        rows = [note for nid, note in sorted(self.notes.items(), reverse=True) if self.owners[nid] == tenant]
        rows = [note for note in rows if search in note["title"] or search in note.get("body", "")]
        return _json(200, rows[: int(limit)])

    def create(self, request: Request, tenant: str) -> Response:
        """A note from a JSON body: ``title`` 1-100 characters, optional ``body`` up to 1000; ``id`` ignored."""
        if request.mimetype != "application/json":
            return _json(400, {"error": "json_required"})
        try:
            body = json.loads(request.get_data(as_text=True))
        except ValueError:
            return _json(400, {"error": "bad_json"})
        if not isinstance(body, dict):
            return _json(422, {"error": "invalid", "message": "an object is required"})
        title, text = body.get("title"), body.get("body", "")
        if not isinstance(title, str) or not 1 <= len(title) <= 100:
            return _json(422, {"error": "invalid", "message": "title"})
        if not isinstance(text, str) or len(text) > 1000:
            return _json(422, {"error": "invalid", "message": "body"})
        note_id = max(self.notes, default=0) + 1
        self.notes[note_id] = {"id": note_id, "title": title, **({"body": text} if "body" in body else {})}
        self.owners[note_id] = tenant
        return _json(201, self.notes[note_id])


def _json(status: int, body: Any, **headers: str) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json", headers=headers)


def _allow(methods: str) -> Response:
    return _json(405, {"error": "method_not_allowed"}, Allow=methods)


def _forbidden() -> Response:
    return _json(403, {"error": "forbidden", "message": "This credential lacks the scope notes:write."})
