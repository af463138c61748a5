"""Local stand-ins for external services, used by the development stack and the tests.

``devtools.smtp_sink`` is an SMTP server that stores every message it receives, and
``devtools.webhook_receiver`` is an HTTP server that verifies and records signed webhook
deliveries. Both bind only to loopback addresses and support fault injection.
"""
