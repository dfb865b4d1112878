"""Performance measurement: timing harness, roofline model and benchmark workloads.

Imports the spec and the backend protocol, never the verification code.
"""
