"""A stand-in for mitmproxy 11.0.2: reads flow files, and `mitmdump` is a plain HTTP proxy."""
