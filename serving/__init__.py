"""FastAPI scoring service for CRMs."""
