"""Cameras in: frame sources (RTSP, files), camera health, URL admission, ONVIF onboarding and events."""
