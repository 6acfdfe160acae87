"""Build hook: setuptools compiles the native core through cffi (build_native.py)."""
from setuptools import setup

setup(cffi_modules=["build_native.py:ffibuilder"])
