"""sensorium.scenarios"""
