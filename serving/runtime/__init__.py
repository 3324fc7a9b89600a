"""Process concerns of the service: uvicorn workers behind one supervisor and the folder they
share, Prometheus metrics, the score recorder."""
