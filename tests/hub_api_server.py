"""A stand-in Hub for `core.hub_access` tests that records every request and its
`Authorization` header, with private repos and the metadata endpoint.

It answers `HEAD`/`GET /{owner}/{name}/resolve/{revision}/{filename}` (file downloads) and
`POST /api/models/{owner}/{name}/paths-info/{revision}` (`HfApi.get_paths_info`). A missing
repo answers 404 and a private one 401 without its token, both with the Hub's
`X-Error-Code: RepoNotFound`, as huggingface.co does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlparse

from tests.http_stub import Replies, serve, shut


@dataclass
class RecordingHub:
    """repos[(repo_id, revision)][filename] = bytes; `private[repo_id]` = the token it needs."""

    repos: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)
    private: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    url: str = ""

    def add(self, repo_id: str, filename: str, data: bytes, revision: str = "main") -> None:
        self.repos.setdefault((repo_id, revision), {})[filename] = data

    def commit_sha(self, repo_id: str, revision: str) -> str:
        return hashlib.sha1(f"{repo_id}@{revision}".encode()).hexdigest()

    def authorizations(self) -> list[str | None]:
        return [auth for _, _, auth in self.requests]

    def paths(self) -> list[str]:
        return [path for _, path, _ in self.requests]

    def start(self) -> RecordingHub:
        hub = self

        class Handler(Replies):
            def _record(self) -> None:
                path = unquote(urlparse(self.path).path)
                hub.requests.append((self.command, path, self.headers.get("authorization")))

            def _refuse(self, repo_id: str) -> bool:
                """404 for a missing repo, 401 for a private one without its token."""
                known = any(r == repo_id for r, _ in hub.repos)
                needed = hub.private.get(repo_id)
                if known and (
                    needed is None or self.headers.get("authorization") == f"Bearer {needed}"
                ):
                    return False
                self.send_response(404 if not known else 401)
                self.send_header("X-Error-Code", "RepoNotFound")
                self.send_header("X-Error-Message", "Repository not found")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return True

            def _file(self, with_body: bool) -> None:
                self._record()
                parts = unquote(urlparse(self.path).path).strip("/").split("/")
                if len(parts) < 5 or parts[2] != "resolve":
                    return self._empty(404)
                repo_id, revision, name = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
                if self._refuse(repo_id):
                    return None
                data = hub.repos.get((repo_id, revision), {}).get(name)
                if data is None:
                    self._error(404, "EntryNotFound")
                    return None
                self.send_response(200)
                self.send_header("X-Repo-Commit", hub.commit_sha(repo_id, revision))
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if with_body:
                    self.wfile.write(data)
                return None

            def do_HEAD(self) -> None:
                self._file(with_body=False)

            def do_GET(self) -> None:
                self._file(with_body=True)

            def do_POST(self) -> None:
                self._record()
                parts = unquote(urlparse(self.path).path).strip("/").split("/")
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                if len(parts) < 6 or parts[:2] != ["api", "models"] or parts[4] != "paths-info":
                    return self._empty(404)
                repo_id, revision = f"{parts[2]}/{parts[3]}", "/".join(parts[5:])
                if self._refuse(repo_id):
                    return None
                files = hub.repos.get((repo_id, revision))
                if files is None:
                    self._error(404, "RevisionNotFound")
                    return None
                wanted = parse_qs(body).get("paths", [])
                infos = [
                    {
                        "type": "file",
                        "path": p,
                        "size": len(files[p]),
                        "oid": hashlib.sha1(files[p]).hexdigest(),
                    }
                    for p in wanted
                    if p in files
                ]
                return self._json(infos)

        self._server, self.url = serve(Handler)
        return self

    def stop(self) -> None:
        shut(self._server)
