"""Placeholder until the C kernel lands: the pure-Python backend is the only one."""
AVAILABLE = False
BACKEND = "pure"
