"""A tiny Hugging Face Hub-compatible HTTP server for tests (`HF_ENDPOINT=server.url`).

It answers `HEAD`/`GET /{owner}/{name}/resolve/{revision}/{filename}` from an in-memory
table, with the `X-Repo-Commit` and `ETag` headers `hf_hub_download` needs, so the real
download code (pinned revisions, cache reuse, missing files, corrupt files) runs in tests.
Uploads (`HfApi.create_repo` / `upload_folder`) land in the same table: the server answers
the create, preupload (every file "regular") and NDJSON commit endpoints.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

from tests.http_stub import Replies, serve, shut


@dataclass
class HubServer:
    """repos[(repo_id, revision)][filename] = bytes; `commits` maps branch names to commit shas."""

    repos: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    auth_headers: list[str | None] = field(default_factory=list)
    url: str = ""

    def add(self, repo_id: str, filename: str, data: bytes, revision: str = "main") -> str:
        """Put a file in a repo; returns the repo's commit sha for `revision`."""
        self.repos.setdefault((repo_id, revision), {})[filename] = data
        return self.commit_sha(repo_id, revision)

    def commit_sha(self, repo_id: str, revision: str) -> str:
        if len(revision) == 40:
            return revision
        return hashlib.sha1(f"{repo_id}@{revision}".encode()).hexdigest()

    def count(self, method: str, suffix: str = "") -> int:
        return sum(1 for m, p in self.requests if m == method and p.endswith(suffix))

    def start(self) -> HubServer:
        hub = self

        class Handler(Replies):
            def _file(self) -> tuple[bytes, str] | None:
                parts = unquote(urlparse(self.path).path).strip("/").split("/")
                if len(parts) < 5 or parts[2] != "resolve":
                    return None
                repo_id, revision, filename = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
                data = hub.repos.get((repo_id, revision), {}).get(filename)
                return None if data is None else (data, hub.commit_sha(repo_id, revision))

            def _answer(self, with_body: bool) -> None:
                hub.requests.append((self.command, urlparse(self.path).path))
                hub.auth_headers.append(self.headers.get("authorization"))
                found = self._file()
                if found is None:
                    self._error(404, "EntryNotFound")
                    return
                data, commit = found
                self.send_response(200)
                self.send_header("X-Repo-Commit", commit)
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if with_body:
                    self.wfile.write(data)

            def do_HEAD(self) -> None:
                self._answer(with_body=False)

            def do_GET(self) -> None:
                self._answer(with_body=True)

            def do_POST(self) -> None:
                path = urlparse(self.path).path
                hub.requests.append(("POST", path))
                hub.auth_headers.append(self.headers.get("authorization"))
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if path == "/api/repos/create":
                    name = json.loads(body)
                    repo_id = f"{name.get('organization') or 'user'}/{name['name']}"
                    return self._json({"url": f"{hub.url}/{repo_id}", "name": repo_id})
                if path == "/api/validate-yaml":  # model-card metadata check before a commit
                    return self._json({"errors": [], "warnings": []})
                parts = path.strip("/").split("/")  # api/models/owner/name/{preupload,commit}/rev
                if len(parts) >= 6 and parts[4] == "preupload":
                    files = json.loads(body)["files"]
                    modes = [
                        {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                        for f in files
                    ]
                    return self._json({"files": modes})
                if len(parts) >= 6 and parts[4] == "commit":
                    repo_id, revision = f"{parts[2]}/{parts[3]}", unquote(parts[5])
                    for line in body.decode().splitlines():
                        op = json.loads(line)
                        if op.get("key") == "file":
                            value = op["value"]
                            hub.add(
                                repo_id, value["path"], base64.b64decode(value["content"]), revision
                            )
                    sha = hub.commit_sha(repo_id, revision)
                    return self._json(
                        {
                            "commitUrl": f"{hub.url}/{repo_id}/commit/{sha}",
                            "commitOid": sha,
                            "pullRequestUrl": None,
                        }
                    )
                self._empty(404)

        self._server, self.url = serve(Handler)
        return self

    def stop(self) -> None:
        shut(self._server)
