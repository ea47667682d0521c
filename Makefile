# zerospan build. `make` builds build/zerospan; see README.md for run/test.
ARCH        ?= $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
VMLINUX_DIR := vmlinux/$(shell uname -m)
BUILD       := build
CLANG       ?= clang
CC          ?= gcc
BPFTOOL     ?= bpftool
PROTOC_C    ?= protoc-c

CFLAGS_COMMON := -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation -D_GNU_SOURCE
USER_CFLAGS   := $(CFLAGS_COMMON) -std=gnu11 -Iinclude -I$(BUILD) -I$(BUILD)/gen -Iuser
USER_LDLIBS   := -lbpf -lelf -lz -lcurl -lmicrohttpd -lprotobuf-c -ljson-c -lpthread
BPF_CFLAGS    := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Wno-unused-function \
                 -I$(VMLINUX_DIR) -Iinclude -Ibpf

ifeq ($(SANITIZE),1)
USER_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -O1 -DZS_SPAN_POISON
USER_LDFLAGS += -fsanitize=address,undefined
endif

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS      := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
BPFT_SRCS  := $(wildcard bpf/tests/*.bpf.c)
BPFT_OBJS  := $(patsubst bpf/tests/%.bpf.c,$(BUILD)/bpf/tests/%.bpf.o,$(BPFT_SRCS))
PROTO_SRCS := $(wildcard proto/*.proto)
PROTO_C    := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTO_SRCS))
PROTO_O    := $(PROTO_C:.c=.o)
# The live view page, compiled into the agent as a string.
VIEW_O     := $(BUILD)/gen/view_html.o

# Agent sources: everything in user/ but main.c forms a library the unit tests link.
USER_LIB_SRCS := $(filter-out user/main.c,$(wildcard user/*.c user/*/*.c))
USER_LIB_OBJS := $(patsubst user/%.c,$(BUILD)/user/%.o,$(USER_LIB_SRCS))
UNIT_SRCS     := $(wildcard tests/unit/test_*.c)
UNIT_BINS     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

# Keep generated intermediates (the protobuf-c sources): the fuzz build uses them.
.SECONDARY:

.PHONY: all deps run test test-unit test-bpf test-integration verify check clean bench bench-encode bench-agent bench-syscalls soak fuzz
all: $(BUILD)/zerospan

deps:
	./scripts/deps.sh build

# The injector takes its buffer with an atomic fetch-or (BPF ISA v3, Linux 5.12+).
$(BUILD)/bpf/inject.bpf.o: BPF_CFLAGS += -mcpu=v3
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/lib/*.h) include/zerospan_abi.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/bpf/tests/%.bpf.o: bpf/tests/%.bpf.c bpf/tests/test_ctx.h $(wildcard bpf/lib/*.h) include/zerospan_abi.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst .bpf.o,,$(notdir $<))_bpf > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	$(PROTOC_C) --proto_path=proto --c_out=$(BUILD)/gen $<

$(BUILD)/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c
	$(CC) $(filter-out -Werror,$(USER_CFLAGS)) -c $< -o $@

$(BUILD)/gen/view_html.c: user/view.html
	@mkdir -p $(@D)
	{ echo '/* generated from user/view.html */'; echo 'const char zs_view_html[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; echo ';'; } > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/view_html.o: $(BUILD)/gen/view_html.c
	$(CC) $(USER_CFLAGS) -c $< -o $@

$(BUILD)/user/%.o: user/%.c $(wildcard user/*.h user/*/*.h) include/zerospan_abi.h $(SKELS) $(PROTO_C)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -c $< -o $@

$(BUILD)/zerospan: $(BUILD)/user/main.o $(USER_LIB_OBJS) $(PROTO_O) $(VIEW_O)
	$(CC) $(USER_LDFLAGS) -o $@ $^ $(USER_LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(USER_LIB_OBJS) $(PROTO_O) $(VIEW_O)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(USER_LDFLAGS) -o $@ $^ $(USER_LDLIBS)

$(BUILD)/tests/bpf_runner: tests/bpf/bpf_runner.c bpf/tests/test_ctx.h $(BPFT_OBJS)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(USER_LDFLAGS) -o $@ $< -lbpf -lelf -lz

# Runs the agent on this terminal (installs what is missing first).
run:
	./scripts/deps.sh build
	$(MAKE) all
	./$(BUILD)/zerospan $(ARGS)

# Installs test dependencies, builds, runs unit (ASan+UBSan), BPF_PROG_RUN
# and integration suites; the last line says "N passed, N failed".
test:
	./scripts/deps.sh test
	$(MAKE) all
	./tests/run-all.sh

test-unit:
	./tests/run-all.sh unit

test-bpf:
	./tests/run-all.sh bpf

test-integration:
	./tests/run-all.sh integration

# Loads every BPF object through the verifier without attaching anything,
# and checks the agent's call chains against the 512-byte stack of kernels
# that give programs no private stack (tests/bpf/stack_depth.py).
verify: $(BPF_OBJS) $(BPFT_OBJS)
	@python3 tests/bpf/stack_depth.py $(BPF_OBJS)
	@for o in $^; do $(BPFTOOL) prog loadall $$o /sys/fs/bpf/zs-verify-$$$$ >/dev/null 2>&1 \
	  && echo "verified $$o" && rm -rf /sys/fs/bpf/zs-verify-$$$$ || { echo "VERIFY FAILED $$o"; rm -rf /sys/fs/bpf/zs-verify-$$$$; exit 1; }; done

check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h' | grep -v '^vmlinux/')
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability -Iinclude -Iuser user/

bench: all
	./scripts/bench-matrix.sh

fuzz:
	./tests/fuzz/run.sh

clean:
	rm -rf $(BUILD)

# Export-path micro-benchmark (ns per span to encode and gzip a batch).
bench-encode: $(USER_LIB_OBJS) $(PROTO_O) $(VIEW_O)
	$(CC) $(USER_CFLAGS) -o $(BUILD)/bench-encode scripts/bench-encode.c $^ $(USER_LDLIBS)
	./$(BUILD)/bench-encode

# The agent's own CPU per record and span, replaying records captured from a
# real run (RECORD=file to reuse one; scripts/bench-agent.sh).
$(BUILD)/bench-agent: scripts/bench-agent.c $(USER_LIB_OBJS) $(PROTO_O) $(VIEW_O)
	$(CC) $(USER_CFLAGS) -o $@ $^ $(USER_LDLIBS)

bench-agent: all $(BUILD)/bench-agent
	./scripts/bench-agent.sh $(RECORD)

# What every process pays per syscall and per watched TLS call while the
# agent is loaded, and a traced HTTP exchange with both ends in one thread
# (scripts/bench-syscalls.sh; OLD_AGENT=path for an A/B).
bench-syscalls: all
	./scripts/bench-syscalls.sh

# Mixed traffic for MINUTES (default 10) under one agent: its RSS and CPU
# every 30 s, loss counted, every request through a three-service chain
# checked as one whole trace (scripts/soak.py; AGENT_ARGS e.g. --inject=force).
# FAULTS=1: the OTLP endpoint failing, slow and gone, the agent killed and
# restarted along the way (at least 9 minutes).
soak: all
	./scripts/deps.sh test
	/usr/bin/python3 scripts/soak.py $(if $(FAULTS),--faults) $(or $(MINUTES),10) $(AGENT_ARGS)
