"""Django project configuration: settings per environment, URLs, the ASGI entry point."""
