"""An OAuth-protected MCP server with its own authorization server, for the OAuth tests.

One process, one origin (http://127.0.0.1:<port>), built with the Python `mcp` SDK's auth
support: the protected MCP endpoint at /mcp answers 401 with a `resource_metadata` challenge,
/.well-known/oauth-protected-resource/mcp (RFC 9728) names the authorization server, and
the SDK's routes serve its metadata (RFC 8414), dynamic client registration (RFC 7591),
/authorize (PKCE S256 required) and /token. Tokens are bound to the resource the client
asked for (RFC 8707): a token issued without `resource` is refused at /mcp.

The browser step is skipped: /authorize approves at once and redirects to the client's
redirect URI with the code, so a test only has to follow that redirect.

Access tokens say they last an hour (`expires_in`) but the server refuses them after
`--lifetime` seconds, so a client only keeps working if it refreshes on a 401. Refresh
tokens rotate: an old one is refused once used, so a client must persist the new one.

Usage: oauth_server.py [--lifetime SECONDS]. Prints `PORT <n>` on stdout once listening.
GET /stats answers counts (registrations, authorizations, codes exchanged, refreshes,
refused tokens) as JSON.
"""

import argparse
import asyncio
import secrets
import socket
import sys
import time

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse

from mcp.server import MCPServer
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    RefreshToken,
    TokenError,
    construct_redirect_uri,
)
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

ADVERTISED_LIFETIME = 3600


class Provider:
    """Everything in memory; approves every authorization request."""

    def __init__(self, lifetime: float):
        self.lifetime = lifetime
        self.clients: dict[str, OAuthClientInformationFull] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        # token -> (AccessToken, issued at)
        self.access_tokens: dict[str, tuple[AccessToken, float]] = {}
        self.stats = {
            "registrations": 0,
            "authorizations": 0,
            "codes_exchanged": 0,
            "refreshes": 0,
            "refused_tokens": 0,
            "resources": [],
        }

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        self.stats["registrations"] += 1
        self.clients[client_info.client_id] = client_info

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        self.stats["authorizations"] += 1
        self.stats["resources"].append(params.resource)
        code = secrets.token_urlsafe(24)
        self.codes[code] = AuthorizationCode(
            code=code,
            scopes=params.scopes or ["mcp"],
            expires_at=time.time() + 300,
            client_id=client.client_id,
            code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource,
        )
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state)

    async def load_authorization_code(self, client, authorization_code: str):
        code = self.codes.get(authorization_code)
        return code if code and code.client_id == client.client_id else None

    async def exchange_authorization_code(self, client, authorization_code: AuthorizationCode) -> OAuthToken:
        self.codes.pop(authorization_code.code, None)
        self.stats["codes_exchanged"] += 1
        return self._issue(client.client_id, authorization_code.scopes, authorization_code.resource)

    async def load_refresh_token(self, client, refresh_token: str):
        token = self.refresh_tokens.get(refresh_token)
        return token if token and token.client_id == client.client_id else None

    async def exchange_refresh_token(self, client, refresh_token: RefreshToken, scopes: list[str]) -> OAuthToken:
        if self.refresh_tokens.pop(refresh_token.token, None) is None:
            raise TokenError(error="invalid_grant", error_description="refresh token already used")
        self.stats["refreshes"] += 1
        return self._issue(client.client_id, scopes or refresh_token.scopes, refresh_token.resource)

    async def load_access_token(self, token: str) -> AccessToken | None:
        found = self.access_tokens.get(token)
        if found is None:
            self.stats["refused_tokens"] += 1
            return None
        access, issued = found
        if time.time() - issued > self.lifetime:
            self.stats["refused_tokens"] += 1
            return None
        return access

    async def revoke_token(self, token) -> None:
        self.access_tokens.pop(token.token, None)
        self.refresh_tokens.pop(token.token, None)

    def _issue(self, client_id: str, scopes: list[str], resource: str | None) -> OAuthToken:
        access = "at-" + secrets.token_urlsafe(24)
        refresh = "rt-" + secrets.token_urlsafe(24)
        self.access_tokens[access] = (
            AccessToken(token=access, client_id=client_id, scopes=scopes, resource=resource),
            time.time(),
        )
        self.refresh_tokens[refresh] = RefreshToken(
            token=refresh, client_id=client_id, scopes=scopes, resource=resource
        )
        return OAuthToken(
            access_token=access,
            expires_in=ADVERTISED_LIFETIME,
            scope=" ".join(scopes),
            refresh_token=refresh,
        )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lifetime", type=float, default=ADVERTISED_LIFETIME)
    args = parser.parse_args()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    origin = f"http://127.0.0.1:{port}"

    provider = Provider(args.lifetime)
    server = MCPServer(
        name="oauth-protected",
        auth_server_provider=provider,
        auth=AuthSettings(
            issuer_url=origin,
            resource_server_url=f"{origin}/mcp",
            client_registration_options=ClientRegistrationOptions(
                enabled=True, valid_scopes=["mcp"], default_scopes=["mcp"]
            ),
            required_scopes=["mcp"],
            validate_token_resource=True,
        ),
    )

    @server.tool()
    def secret_word() -> str:
        """The word only an authorized client may read."""
        return "swordfish"

    @server.custom_route("/stats", methods=["GET"])
    async def stats(_: Request) -> JSONResponse:
        return JSONResponse(provider.stats)

    app = server.streamable_http_app()
    config = uvicorn.Config(app, log_level="warning")
    print(f"PORT {port}", flush=True)
    await uvicorn.Server(config).serve(sockets=[sock])


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
