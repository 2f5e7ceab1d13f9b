"""Chat models behind one protocol: OpenAI, Anthropic, scripted; retries; prices and windows."""
