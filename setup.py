"""Build hook: setuptools compiles the native core through cffi (build_native.py).

On CPython the extension is built for the stable ABI (cffi's API mode sets
``py_limited_api`` and defines ``Py_LIMITED_API``), so the wheel is tagged
``cp39-abi3``: one wheel per platform serves CPython 3.9 and every later
version. PyPy has no stable ABI and gets a wheel of its own.
"""

import platform

from setuptools import setup

options = {}
if platform.python_implementation() == "CPython":
    options["bdist_wheel"] = {"py_limited_api": "cp39"}

setup(cffi_modules=["build_native.py:ffibuilder"], options=options)
