"""sensorium.multimodal"""
