"""Where a gateway's calls go (`Upstream`: a family's base URL and real key) and what a CLI in
a container is given instead (`socket_env`: the loopback port and the placeholder key)."""

from __future__ import annotations

from pydantic import BaseModel

from swelancer.gateway.protocols import Family

PLACEHOLDER_KEY = "swelancer-gateway-placeholder"
"""The only key a container holds: the gateway drops whatever key a request carries."""


class Upstream(BaseModel):
    """Where a family's calls go: the base URL as its SDK takes it (OpenAI's with `/v1`,
    Anthropic's without), and the real key."""

    family: Family
    base_url: str
    api_key: str

    def url(self, path: str) -> str:
        base = self.base_url.rstrip("/")
        if self.family == "openai" and base.endswith("/v1") and path.startswith("/v1/"):
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
