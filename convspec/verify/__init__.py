"""Verification of a backend against the specification: strategies, tolerance model,
conformance checks, the pytest plugin behind ``convspec verify``, repros and reports.

Imports the spec, the reference and the backend protocol; nothing below it imports this.
"""
