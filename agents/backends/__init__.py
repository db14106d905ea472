"""Chat-model backends, one module each; import them through :func:`sensorium.agents.models.load_chat_model`."""
