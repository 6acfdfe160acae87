# socketify: make run | make test | make lint | make asan | make fuzz | make bench | make clean
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
NATIVE_SOURCES := $(wildcard native/src/*.c native/src/*.h native/include/*.h) build_native.py
CC ?= cc
CFLAGS_TEST := -std=c11 -Wall -Wextra -Werror -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -Inative/src -Inative/include
ASAN_LIB = $(shell $(CC) -print-file-name=libasan.so)
FUZZ_RUNS ?= 200000
FUZZ_TIME ?= 20

.PHONY: lint lint-native run test test-deps test-native test-python test-compat build asan fuzz fuzz-long bench bench-quick clean wheel wheel-test docs test-pypy autobahn

$(VENV)/.stamp: pyproject.toml
	PYTHON=$(PYTHON) ./tools/system_deps.sh
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q -U pip setuptools wheel cffi
	$(PIP) install -q --no-build-isolation -e ".[test]"
	touch $@

socketify/.native.stamp: $(VENV)/.stamp $(NATIVE_SOURCES)
	$(PY) setup.py -q build_ext --inplace
	$(PY) -c "import socketify._native"
	touch $@

build: socketify/.native.stamp

run: build
	$(PY) examples/hello_world.py

test: build test-native test-python

# The programs the tests drive (chromium, redis-server): only `make test` needs them.
test-deps:
	@./tools/test_deps.sh

# Each native/tests/test_X.c tests native/src/X.c alone, under ASan + UBSan.
NATIVE_TESTS := $(patsubst native/tests/test_%.c,%,$(wildcard native/tests/test_*.c))

# Run again only when the C sources, the tests or the fuzz seeds change, so
# that `make asan` after `make test` does not repeat them.
NATIVE_TESTS_STAMP := build/native-tests/.stamp
test-native: $(NATIVE_TESTS_STAMP)

$(NATIVE_TESTS_STAMP): $(wildcard native/src/* native/include/* native/tests/* native/fuzz/*.c native/fuzz/corpus/*/*)
	@mkdir -p build/native-tests
	@set -e; for t in $(NATIVE_TESTS); do \
	  $(CC) $(CFLAGS_TEST) native/src/$$t.c native/tests/test_$$t.c -lcrypto -lz -o build/native-tests/test_$$t; \
	  printf '%-14s ' $$t; \
	  if ASAN_OPTIONS=detect_leaks=0 ./build/native-tests/test_$$t > build/native-tests/$$t.out 2>&1; \
	  then tail -n 1 build/native-tests/$$t.out; else cat build/native-tests/$$t.out; exit 1; fi; \
	done
	@$(CC) $(CFLAGS_TEST) native/src/*.c native/tests/conn_transitions.c -lssl -lcrypto -lz \
	  -o build/native-tests/conn_transitions
	@printf '%-14s ' connection; \
	if ASAN_OPTIONS=detect_leaks=0 ./build/native-tests/conn_transitions > build/native-tests/conn.out 2>&1; \
	then tail -n 1 build/native-tests/conn.out; else cat build/native-tests/conn.out; exit 1; fi
	@# every fuzz target over its seed corpus: a regression check (make fuzz fuzzes)
	@./tools/fuzz.sh --seeds
	@touch $@

# tools/pytest.sh: on two pytest-xdist workers, then the `serial` tests alone.
test-python: build test-deps
	./tools/pytest.sh $(PY) -q tests

# The whole Python suite against an AddressSanitizer + UBSan build of the core.
asan: $(VENV)/.stamp test-deps $(NATIVE_TESTS_STAMP)
	rm -rf build/asan build/asan-tmp && mkdir -p build/asan/socketify
	SOCKETIFY_CFLAGS="-O1 -g -UNDEBUG -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	SOCKETIFY_LDFLAGS="-fsanitize=address,undefined" \
	  $(PY) setup.py -q build_ext --build-lib build/asan --build-temp build/asan-tmp --force >/dev/null 2>&1
	cd socketify && find . -name '*.py' -not -path '*/__pycache__/*' -exec cp --parents {} ../build/asan/socketify/ \;
	PYTHONPATH=$(CURDIR)/build/asan SOCKETIFY_TEST_PRELOAD=$(ASAN_LIB) \
	  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:quarantine_size_mb=4 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ./tools/pytest.sh $(PY) -q -p no:cacheprovider tests

# The native core as CI holds it: every source and test warning-free under
# -std=c11 -pedantic -Wall -Wextra -Werror (the sources at -O2, where the
# flow warnings live); the kqueue backend compiled for syntax and warnings
# against a stand-in <sys/event.h>; and clang-format (native/.clang-format)
# finding nothing to change. tools/lint_deps.sh installs clang-format.
NATIVE_LINT_FLAGS := -std=c11 -pedantic -Wall -Wextra -Werror -Inative/src -Inative/include
NATIVE_FORMATTED = $(shell find native/src native/include native/tests -name '*.[ch]' | sort)

lint-native:
	@./tools/lint_deps.sh
	@set -e; for f in $(filter-out native/src/loop_kqueue.c,$(wildcard native/src/*.c)); do \
	  $(CC) $(NATIVE_LINT_FLAGS) -O2 -c $$f -o /dev/null; \
	done
	$(CC) $(NATIVE_LINT_FLAGS) -fsyntax-only $(wildcard native/tests/*.c)
	$(CC) $(NATIVE_LINT_FLAGS) -O2 -DSK_LINT_KQUEUE -Inative/tests/kqueue_shim \
	  -c native/src/loop_kqueue.c -o /dev/null
	clang-format --dry-run -Werror $(NATIVE_FORMATTED)

# Fuzz the parsers (tools/fuzz.sh): coverage-guided with clang's libFuzzer,
# FUZZ_TIME seconds per target, two at a time, from the seed corpora in
# native/fuzz/corpus/ (never written to); without clang, a gcc build driven
# by a standalone mutator (FUZZ_RUNS inputs). Both under ASan + UBSan.
fuzz: test-deps
	FUZZ_TIME=$(FUZZ_TIME) FUZZ_RUNS=$(FUZZ_RUNS) ./tools/fuzz.sh

# The same for hours: FUZZ_TIME per target (make fuzz-long FUZZ_TIME=...).
fuzz-long: FUZZ_TIME = 3600
fuzz-long: fuzz

# Autobahn|Testsuite (fuzzingclient, every case, permessage-deflate) against
# a native and an ASGI echo server; Python 2.7 from pyenv runs the suite.
autobahn: build
	$(PY) tools/autobahn.py

bench: build
	$(PY) bench/run.py

bench-quick: build
	$(PY) bench/run.py --quick

clean:
	rm -rf build dist site *.egg-info socketify/_native*.so socketify/_native.c socketify/.native.stamp
	find . -name __pycache__ -prune -exec rm -rf {} +

# The supported range beyond the default interpreter: a server-side subset of the
# suite under every other Python found (python3.9 ... python3.13 on PATH or
# in pyenv, and pypy3), each in its own venv with its own build.
COMPAT_TESTS ?= tests/test_http_api.py tests/test_ws_conformance.py tests/test_extensions.py tests/test_lifecycle.py
test-compat: build
	@./tools/test_compat.sh $(COMPAT_TESTS)

# The whole suite under PyPy 3 (tools/test_pypy.sh).
test-pypy: build test-deps
	./tools/test_pypy.sh

# An sdist and one cp39-abi3 manylinux wheel (OpenSSL bundled, zlib static)
# in dist/: see tools/build_wheel.sh.
wheel: $(VENV)/.stamp
	PY=$(PY) ./tools/build_wheel.sh

# Both installed into fresh venvs of other CPythons; the suite (the whole one
# for the wheel, a server-side subset for the sdist) against the installed package.
wheel-test: wheel test-deps
	PY=$(PY) ./tools/wheel_test.sh

# The requirements of one optional-dependencies extra of pyproject.toml, one
# a line (read with a regex: tomllib is 3.11+ and the venv may be older).
EXTRA_REQUIREMENTS = $(PY) -c 'import re, sys; t = open("pyproject.toml").read(); print("\n".join(re.findall(r"\"([^\"]+)\"", re.search(r"^%s = \[(.*?)\]\s*$$" % sys.argv[1], t, re.M | re.S).group(1))))'

# One extra of pyproject.toml (docs, lint) installed into .venv, again only
# when pyproject.toml changes.
$(VENV)/.extra-%-stamp: $(VENV)/.stamp pyproject.toml
	@mkdir -p build
	$(EXTRA_REQUIREMENTS) $* > build/$*-requirements.txt
	$(PIP) install -q -r build/$*-requirements.txt
	touch $@

# The documentation site (docs/ -> site/), strict: a broken link or reference
# fails.
docs: $(VENV)/.extra-docs-stamp
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# Lint: ruff (rules and format) on every Python file of the repository, mypy
# on the package ([tool.ruff], [tool.mypy] in pyproject.toml), then the C
# side. The lint extra's pinned tools go into .venv.
LINT_PATHS := socketify tests examples bench tools build_native.py setup.py
lint: $(VENV)/.extra-lint-stamp
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/mypy
	$(MAKE) --no-print-directory lint-native
