"""Version of the stand-in (the release upstream pins)."""

VERSION = "11.0.2"
MITMPROXY = f"Mitmproxy: {VERSION} (contract stand-in)"
