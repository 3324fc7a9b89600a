"""The HTTP layer: the app and its lifespan, thin routes, dependencies, body limit, the weights
page."""
