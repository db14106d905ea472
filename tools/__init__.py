"""sensorium.tools"""
