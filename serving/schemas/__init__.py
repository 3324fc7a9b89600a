"""The API's documented shapes: request models (validation, examples) and response models."""
