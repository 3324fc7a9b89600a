"""Process concerns of the service: uvicorn workers, Prometheus metrics, memory kept per worker."""
