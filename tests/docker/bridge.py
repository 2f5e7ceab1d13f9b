"""This machine's address on Docker's default bridge, for tests that serve something to
containers."""

from __future__ import annotations

import fcntl
import socket
import struct
from typing import Any

SIOCGIFADDR = 0x8915


def bridge_gateway(client: Any) -> str:
    """This machine's address on Docker's default bridge. Engines that leave `Gateway` out of
    the bridge's IPAM config (seen on a freshly started engine) still give the bridge
    interface its address here, which is read from the interface itself."""
    attrs = client.networks.get("bridge").attrs
    for config in attrs.get("IPAM", {}).get("Config") or []:
        if config.get("Gateway"):
            return str(config["Gateway"]).split("/")[0]
    name = (attrs.get("Options") or {}).get("com.docker.network.bridge.name", "docker0")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        packed = struct.pack("256s", name.encode()[:15])
        return socket.inet_ntoa(fcntl.ioctl(sock.fileno(), SIOCGIFADDR, packed)[20:24])
