# Keel's front door. `make run` starts a dev agent, `make test` runs what CI
# runs. Both install the plugin toolchain first when it is missing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
PLUGIN_DIR := target/plugins
GUEST_TARGET_DIR := target/guest
GUEST_OUT := $(GUEST_TARGET_DIR)/wasm32-unknown-unknown/guest

# Guests: every crate under plugins/ and tests/fixtures/. Fixtures that
# carry their own wit/ break the contract on purpose and keep their own
# component metadata.
PLUGINS := $(notdir $(wildcard plugins/*))
FIXTURES := $(notdir $(wildcard tests/fixtures/*))
GUEST_SOURCES := $(shell find wit sdk plugins tests/fixtures -type f \( -name '*.rs' -o -name '*.toml' -o -name '*.wit' \)) Cargo.lock

# The guest toolchain. A rustup target is used when installed; otherwise
# Debian's rustc-web with build-std and wasm-ld (see README, "Plugins").
HAVE_RUSTUP_WASM := $(shell rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown && echo yes)
REMAP := --remap-path-prefix=$(CURDIR)=/keel --remap-path-prefix=$(HOME)/.cargo=/cargo \
         --remap-path-prefix=/usr/lib/rustlib/src/rust=/rust
ifeq ($(HAVE_RUSTUP_WASM),yes)
GUEST_CARGO := RUSTFLAGS="$(REMAP)" $(CARGO)
GUEST_FLAGS :=
else
LLVM_MAJOR = $(shell /usr/bin/rustc -vV 2>/dev/null | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
GUEST_CARGO = RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-$(LLVM_MAJOR) \
              RUSTFLAGS="$(REMAP)" /usr/bin/cargo
GUEST_FLAGS := -Z build-std=std,panic_abort
endif

.PHONY: help run test plugins toolchain browser etcd build bench soak fuzz clean-plugins

help:
	@echo "make run        start a dev agent (http://127.0.0.1:4646) with the default plugins"
	@echo "make test       fmt, clippy and every test, as CI runs them"
	@echo "make plugins    build the default plugins and test fixtures into $(PLUGIN_DIR)/"
	@echo "make bench      run the benchmarks and print their tables"
	@echo "make soak       the fault harness for SOAK_SECONDS (default 600) against three servers"
	@echo "make fuzz       each fuzz target for FUZZ_SECONDS (default 60), from tests/corpus/"
	@echo "make toolchain  install the wasm guest toolchain if it is missing"
	@echo "make browser    install Chromium and ChromeDriver, for the status page's tests, if missing"
	@echo "make etcd       install etcd, the cluster bench's baseline, if it is missing"

run: plugins
	$(CARGO) run --release -p keel -- agent --dev

test: plugins browser
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) nextest run --workspace --locked --no-fail-fast
	$(CARGO) test --workspace --doc --locked

bench: plugins etcd
	$(CARGO) build --release --locked -p keel  # the server, ACL, registry and cluster benches run this binary
	$(CARGO) bench --locked -p keel-tests --bench plugins --bench server --bench acl --bench registry --bench cluster --bench scheduling

# The fault harness of t60 for as long as asked: SOAK_SECONDS=3600 make soak.
SOAK_SECONDS ?= 600
# --workspace, not -p: the same feature set as make test, so nothing is
# compiled again (a -p build unifies features differently and rebuilds wasmtime).
soak: plugins
	SOAK_SECONDS=$(SOAK_SECONDS) $(CARGO) nextest run --locked --workspace --run-ignored only --no-capture \
		-E 'binary(t60_fault_harness) & test(a_long_history_under_kills_and_pauses_is_safe_in_a_cluster)'

# Each fuzz target of t70 for as long as asked: FUZZ_SECONDS=600 make fuzz.
FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(CARGO) nextest run --locked --workspace --no-capture -E 'binary(t70_fuzz)'

build: plugins
	$(CARGO) build --locked -p keel

toolchain:
ifeq ($(HAVE_RUSTUP_WASM),yes)
	@true
else
	@if ! { [ -x /usr/bin/cargo ] && [ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/src/rust/library ]; }; then \
		echo "installing the wasm guest toolchain (Debian rustc-web, cargo-web, rust-web-src)"; \
		$(SUDO) apt-get update -qq; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rustc-web cargo-web rust-web-src >/dev/null; \
	fi
	@major=$$(/usr/bin/rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p'); \
	if ! command -v wasm-ld-$$major >/dev/null; then \
		echo "installing wasm-ld-$$major (Debian lld-$$major)"; \
		$(SUDO) apt-get update -qq; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lld-$$major >/dev/null; \
	fi
endif

# The status page's tests drive Debian's Chromium through ChromeDriver.
browser:
	@if ! { [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; }; then \
		echo "installing Chromium and ChromeDriver (Debian chromium, chromium-driver)"; \
		$(SUDO) apt-get update -qq; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

# The cluster bench runs a three-member etcd cluster beside Keel's.
etcd:
	@if ! command -v etcd >/dev/null; then \
		echo "installing etcd (Debian etcd-server)"; \
		$(SUDO) apt-get update -qq; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null; \
	fi

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

plugins: $(PLUGIN_DIR)/.built

$(PLUGIN_DIR)/.built: $(GUEST_SOURCES) host/keel-contract/src/*.rs host/keel-contract/src/bin/*.rs | toolchain
	$(GUEST_CARGO) build --locked --profile guest --target wasm32-unknown-unknown $(GUEST_FLAGS) \
		--target-dir $(GUEST_TARGET_DIR) $(addprefix -p ,$(PLUGINS)) $(addprefix -p fixture-,$(FIXTURES))
	$(CARGO) build --locked -q -p keel-contract --bin keel-componentize
	mkdir -p $(PLUGIN_DIR)/fixtures
	for plugin in $(PLUGINS); do \
		target/debug/keel-componentize $(GUEST_OUT)/$${plugin//-/_}.wasm $(PLUGIN_DIR)/$$plugin.wasm; \
	done
	for fixture in $(FIXTURES); do \
		own_wit=; [ -d tests/fixtures/$$fixture/wit ] && own_wit=--embedded-wit; \
		target/debug/keel-componentize $(GUEST_OUT)/fixture_$${fixture//-/_}.wasm \
			$(PLUGIN_DIR)/fixtures/$$fixture.wasm $$own_wit; \
	done
	touch $@

clean-plugins:
	rm -rf $(PLUGIN_DIR) $(GUEST_TARGET_DIR)
