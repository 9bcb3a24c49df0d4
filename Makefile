# SPDX-License-Identifier: Apache-2.0
# Thin wrapper over CMake: `make run` and `make test` are the two commands a
# new user needs (see README.md).
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)

.PHONY: all deps build build-asan run test test-fast bench format clean

all: build

deps:
	@sh scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUREG_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DUREG_WERROR=ON -DUREG_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

run: build
	@sh scripts/demo.sh $(BUILD)/ureg

# Every test in the -Werror build, then the same tests under ASan + UBSan.
test: build build-asan
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Side-by-side benchmarks (not tests): results go in docs/performance.md.
bench: build
	@sh scripts/deps.sh --bench
	bash bench/serve.sh $(BUILD)/ureg
	bash bench/publish.sh $(BUILD)/ureg
	bash bench/resolve.sh $(BUILD)
	bash bench/fetch.sh $(BUILD)/ureg
	bash bench/pull.sh $(BUILD)/ureg

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
