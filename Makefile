# Latchkey: the two commands are `make run` and `make test` (README.md). Both install missing Debian
# packages first (scripts/install-deps.sh, needs root or sudo), then build with CMake and Ninja.

BUILD_DIR ?= build
ASAN_DIR ?= build-asan
TSAN_DIR ?= build-tsan
CONFIG ?= config/latchkey.dev.toml
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all deps build run test test-unit test-integration test-sanitize test-tsan fuzz bench format clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD_DIR)/build.ninja: | deps
	cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR)

run: build
	./$(BUILD_DIR)/latchkeyd serve --config $(CONFIG)

# Everything CI runs: unit and integration tests, then the same under ASan/UBSan, then the fuzzers briefly.
test: build
	@./scripts/install-deps.sh --browser
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j2
	$(MAKE) test-sanitize
	$(MAKE) fuzz

test-unit: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -L unit

test-integration: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -L integration

test-sanitize: deps
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLATCHKEY_SANITIZE=ON -DLATCHKEY_BUILD_BENCH=OFF
	cmake --build $(ASAN_DIR) --target latchkeyd latchkey_tests latchkey_client latchkey_client_tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_DIR) --output-on-failure -j2

# By hand, not part of `make test` (about 10 minutes more): latchkeyd built with ThreadSanitizer under the
# integration tests (the other binaries they use come from the normal build). Fails if any race is reported.
test-tsan: build
	cmake -S . -B $(TSAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS=-fsanitize=thread \
	  -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread -DLATCHKEY_BUILD_BENCH=OFF
	cmake --build $(TSAN_DIR) --target latchkeyd
	rm -rf $(TSAN_DIR)/tsan-reports && mkdir -p $(TSAN_DIR)/tsan-reports
	TSAN_OPTIONS=second_deadlock_stack=1:log_path=$(abspath $(TSAN_DIR))/tsan-reports/report \
	  LATCHKEYD=$(abspath $(TSAN_DIR))/latchkeyd python3 -m unittest discover -s tests/integration -p "test_*.py"
	@if ls $(TSAN_DIR)/tsan-reports/report.* >/dev/null 2>&1; then \
	  cat $(TSAN_DIR)/tsan-reports/report.*; echo "ThreadSanitizer reported races (above)"; exit 1; fi

fuzz: deps
	./scripts/fuzz.sh $(FUZZ_SECONDS)

bench: build
	./scripts/bench.sh

format:
	find src bench fuzz -name '*.h' -o -name '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(TSAN_DIR) build-fuzz
