"""Process concerns of the service: uvicorn workers behind one supervisor, Prometheus metrics."""
