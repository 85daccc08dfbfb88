# moat: the two README commands over Meson + Ninja.
#   make        build build/moatd and build/moatctl
#   make run    demo server in the foreground on loopback ports (./var)
#   make test   every unit, integration, sanitizer and fuzz test
#   make bench  SMTP benchmark against Postfix (bench/smtp/run.sh)

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
PYTHON     ?= /usr/bin/python3
FUZZ_SECONDS ?= 30
VAR        := $(CURDIR)/var
CONF       := $(VAR)/moatd.conf
DEMO_PASSWORD ?= demo

.PHONY: all deps test-deps run test unit integ asan fuzz bench user clean

all: deps
	@test -f $(BUILD)/build.ninja || meson setup $(BUILD) >/dev/null
	ninja -C $(BUILD)

deps:
	@scripts/deps.sh build

test-deps:
	@scripts/deps.sh test

# The service user moatd drops to (created only when running as root).
user:
	@if [ "$$(id -u)" = 0 ] && ! getent passwd moat >/dev/null; then \
		echo "creating system user moat"; \
		useradd --system --home-dir /var/lib/moat --no-create-home \
		    --shell /usr/sbin/nologin moat; \
	fi

run: all user
	@scripts/demo-setup.sh "$(VAR)" "$(DEMO_PASSWORD)"
	exec $(BUILD)/moatd -c $(CONF)

test: test-deps all user unit integ asan fuzz

unit: all
	meson test -C $(BUILD) --suite unit --print-errorlogs

integ: all user
	MOAT_BUILD=$(CURDIR)/$(BUILD) $(PYTHON) -m pytest -q tests/integ

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: test-deps user
	@test -f $(ASAN_BUILD)/build.ninja || meson setup $(ASAN_BUILD) \
	    -Dbuildtype=debug -Db_sanitize=address,undefined \
	    -Db_lundef=false >/dev/null
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    meson test -C $(ASAN_BUILD) --suite unit --print-errorlogs
	ASAN_OPTIONS=abort_on_error=1:detect_leaks=0 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	MOAT_BUILD=$(CURDIR)/$(ASAN_BUILD) $(PYTHON) -m pytest -q tests/integ

# Each libFuzzer target for FUZZ_SECONDS, from the seed corpus.
fuzz: test-deps
	@test -f $(FUZZ_BUILD)/build.ninja || CC=clang meson setup \
	    $(FUZZ_BUILD) -Dfuzz=true -Db_sanitize=address,undefined \
	    -Db_lundef=false >/dev/null
	ninja -C $(FUZZ_BUILD)
	@for f in $(FUZZ_BUILD)/tests/fuzz/fuzz_*; do \
		[ -f "$$f" ] && [ -x "$$f" ] || continue; \
		name=$$(basename $$f); seeds=tests/data/fuzz/$${name#fuzz_}; \
		corpus=$$(mktemp -d); \
		[ -d "$$seeds" ] && cp $$seeds/* $$corpus/ 2>/dev/null; \
		echo "fuzz: $$name for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
		    -print_final_stats=0 $$corpus >$$corpus.log 2>&1 || \
		    { tail -40 $$corpus.log; rm -rf $$corpus $$corpus.log; \
		      exit 1; }; \
		grep -E "^#[0-9]+.*DONE" $$corpus.log | tail -1; \
		rm -rf $$corpus $$corpus.log; \
	done

bench: all user
	@scripts/deps.sh bench
	bench/smtp/run.sh
	bench/screen/run.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
