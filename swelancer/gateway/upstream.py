"""Where a gateway's calls go (`Upstream`: a family's base URL and real key) and what a CLI in
a container is given instead (`socket_env`: the loopback port and the placeholder key)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel

from swelancer.gateway.protocols import Family

PLACEHOLDER_KEY = "swelancer-gateway-placeholder"
"""The only key a container holds: the gateway drops whatever key a request carries."""
DEFAULT_URLS: dict[Family, str] = {
    "anthropic": "https://api.anthropic.com",
    "openai": "https://api.openai.com/v1",
}
"""Each family's own provider, as its SDK takes the base URL."""
URL_VARIABLES: dict[Family, str] = {
    "anthropic": "ANTHROPIC_BASE_URL",
    "openai": "OPENAI_BASE_URL",
}
"""The variable each family's SDK (and CLI) reads its base URL from."""


def provider_url(family: Family, given: str | None, env: Mapping[str, str]) -> str:
    """Where a family's calls go: the URL given (`--base-url`), else the family's URL
    variable, else its own provider."""
    return given or env.get(URL_VARIABLES[family]) or DEFAULT_URLS[family]


class Upstream(BaseModel):
    """Where a family's calls go: the base URL as its SDK takes it (OpenAI's with `/v1`,
    Anthropic's without), and the real key."""

    family: Family
    base_url: str
    api_key: str
    sdk_base: bool = False
    """OpenAI's: `base_url` is exactly what the SDK of a host-driven model was given, so a
    path under `/v1/` goes right after it (`http://host:8000` + `/chat/completions`), as the
    SDK would send it; else `/v1` is added unless the URL ends with it."""

    def url(self, path: str) -> str:
        base = self.base_url.rstrip("/")
        under_v1 = self.family == "openai" and path.startswith("/v1/")
        if under_v1 and (self.sdk_base or base.endswith("/v1")):
            path = path[3:]
        return base + path

    def headers(self) -> dict[str, str]:
        if self.family == "anthropic":
            return {"x-api-key": self.api_key}
        return {"authorization": f"Bearer {self.api_key}"}


def socket_env(port: int) -> dict[str, str]:
    """What a CLI in the container is given: the loopback gateway and the placeholder key."""
    local = f"http://127.0.0.1:{port}"
    return {
        "ANTHROPIC_BASE_URL": local,
        "ANTHROPIC_API_KEY": PLACEHOLDER_KEY,
        "OPENAI_BASE_URL": f"{local}/v1",
        "OPENAI_API_KEY": PLACEHOLDER_KEY,
    }
