"""One object the composition root builds at start-up and hands to every service and tab:
how the app is served, the signer, the quotas, the gate, visitors' models and Hub access.

    guard = SpaceGuard.from_env(server_name, share, shared=..., shared_folder=..., configured=...)
    demo.queue(max_size=guard.quotas.queue_size + 8, ...)
    demo.launch(..., app_kwargs={"middleware": guard.middleware(demo)})
    # in each handler: who = guard.who(request, profile, token, browser_token)
    #                   folder = guard.resolve(who, name)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.admission import AdmissionGate, gradio_pending, proxy_hops
from core.hub_access import HubAccess
from core.identity import Deployment, Identity, Signer, VisitorCookieMiddleware, identify
from core.identity import load_secret as _load_secret
from core.owned_models import OwnedModels
from core.paths import data_dir, secret_file, visitor_models_dir
from core.quotas import JobGate, Quotas
from core.safe_files import FilePayloadGuard
from core.sweeper import Sweeper


@dataclass
class SpaceGuard:
    deployment: Deployment
    signer: Signer
    quotas: Quotas
    gate: JobGate
    models: OwnedModels
    hub: HubAccess
    data: Path
    sweeper: Sweeper = field(default_factory=Sweeper)  # removes visitors' outputs in time
    proxy_hops: int = 0  # trusted proxies in front of the app (GAN_STUDIO_TRUSTED_PROXY_HOPS)

    @classmethod
    def from_env(
        cls,
        server_name: str | None,
        share: bool,
        shared: Callable[[], list[str]],
        shared_folder: Callable[[str], Path],
        configured: Callable[[], Iterable[tuple[str, str]]] = tuple,
        reachable: Callable[[], bool] = lambda: True,
        env: Mapping[str, str] = os.environ,
    ) -> SpaceGuard:
        deployment = Deployment.from_env(server_name, share, env)
        owner = deployment.owner_at_keyboard
        data = data_dir(env)
        quotas = Quotas.from_env(visitors=not owner, env=env)
        return cls(
            deployment=deployment,
            signer=Signer(_load_secret(secret_file(data), env)),
            quotas=quotas,
            gate=JobGate(quotas),
            models=OwnedModels(visitor_models_dir(data), quotas, shared, shared_folder),
            hub=HubAccess(quotas, configured, owner_login=owner, reachable=reachable),
            data=data,
            proxy_hops=proxy_hops(deployment.on_space, env),
        )

    def who(self, request: Any, profile: Any, token: Any, browser_token: Any = None) -> Identity:
        """Who is asking, for a handler's `gr.Request`, `gr.OAuthProfile | None`,
        `gr.OAuthToken | None` (and the BrowserState value, when the tab has one)."""
        return identify(
            request,
            profile,
            token,
            self.deployment,
            signer=self.signer,
            browser_token=browser_token,
        )

    def resolve(self, who: Identity, name: str, weights: str = "model.safetensors") -> Path:
        """The folder of a model `who` may use: a typed `owner/name@rev` through bounded Hub
        access (refused with no request for visitors unless allowed), else their own model,
        else a shared one; someone else's model answers as a missing one."""
        if "/" in name:
            from core import store  # lazy: core.store imports torch, the UI must not

            if ":" in name:  # an owner-configured network file, converted once; no other
                return store.resolve_hub_file(store.HubFileRef.parse(name))
            ref = store.HubRef.parse(name)
            return self.hub.fetch(ref.repo_id, ref.revision, ["config.json", weights])
        return self.models.resolve(who, name)

    def middleware(self, demo: Any) -> list[Any]:
        """ASGI middleware for `launch(app_kwargs={"middleware": ...})`: the visitor cookie and
        the file-payload guard always, the admission gate (job caps, upload budgets, MCP
        identities) for visitors."""
        from starlette.middleware import Middleware

        secure = self.deployment.on_space
        stack = [
            Middleware(VisitorCookieMiddleware, signer=self.signer, secure=secure),
            Middleware(FilePayloadGuard),
        ]
        if self.deployment.owner_at_keyboard:
            return stack
        hops = self.proxy_hops
        return [
            *stack,
            Middleware(
                AdmissionGate,
                quotas=self.quotas,
                signer=self.signer,
                pending=lambda: gradio_pending(demo, self.signer, hops),
                hops=hops,
            ),
        ]
