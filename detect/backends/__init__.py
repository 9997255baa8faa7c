"""Detector implementations behind ``detect.port.Detector``."""
