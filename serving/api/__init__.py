"""The HTTP layer: the app and its lifespan, thin routes, dependencies, the body limit and the
weights page."""
