"""Talking to OCI/Docker registries: references, hosts, credentials, auth and the HTTP client.

Kept import-light on purpose: ``pynerd.registry.reference`` is loaded by commands that never
touch the network, so nothing here imports requests, ssl or http.client at module level;
``transport.RequestsTransport`` imports requests when it is first constructed.
"""
