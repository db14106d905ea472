"""sensorium.agents"""
