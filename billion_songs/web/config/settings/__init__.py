"""Settings per environment: base (shared), local (development), production, test."""
