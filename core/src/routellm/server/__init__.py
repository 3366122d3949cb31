"""The OpenAI-compatible routing server (``routellm serve``).

Import-light: Litestar and uvicorn are imported by :mod:`routellm.server.app` and the command only.
"""
