"""Chat-model backends, one module each; import them through :func:`sensorium.agents.brain.load.load_chat_model`."""
