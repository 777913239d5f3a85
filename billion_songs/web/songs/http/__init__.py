"""The HTTP layer: thin views, URLs, page rendering and the page cache, the ASGI fast path."""
