"""sensorium.memory"""
