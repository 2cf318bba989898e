# kvcheck — GNU Makefile. Everything builds into build/.
#   make campaign   install missing packages, build, run the default
#                   cross-check campaign (the main job)
#   make test       install missing packages, build, run the Criterion tests
#   make all        build the library, the kvcheck CLI and the tests
#   make bench      the full speed benchmark (opt-in; minutes; not in test)
# See README.md.

CC      ?= gcc
BUILD   ?= build
PKGS    := criterion gsl libcjson
OPT     ?= -O2
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
BASEFLAGS := -std=c11 -D_GNU_SOURCE -g $(WARN) -fPIC
# Kernels: fast C, no -march=native (valgrind must be able to run it).
KERNEL_CFLAGS := $(BASEFLAGS) $(OPT) -fvisibility=hidden
# Oracle: bit-identical results on every compiler and machine.
ORACLE_CFLAGS := $(BASEFLAGS) $(OPT) -ffp-contract=off -fno-fast-math
# Everything else.
CFLAGS_REST   := $(BASEFLAGS) $(OPT) -ffp-contract=off
SANFLAGS ?=

GSL_CFLAGS    = $(shell pkg-config --cflags gsl)
GSL_LIBS      = $(shell pkg-config --libs gsl)
CJSON_CFLAGS  = $(shell pkg-config --cflags libcjson)
CJSON_LIBS    = $(shell pkg-config --libs libcjson)
CRIT_CFLAGS   = $(shell pkg-config --cflags criterion)
CRIT_LIBS     = $(shell pkg-config --libs criterion)

KERNEL_SRC := $(wildcard kernels/*.c)
ORACLE_SRC := $(wildcard oracle/*.c)
GEN_SRC    := $(wildcard generators/*.c)
GOLDEN_SRC := $(wildcard golden/*.c)
REPORT_SRC := $(wildcard reports/*.c)
TOOL_SRC   := $(filter-out tools/kvcheck_main.c tools/oracle_bitexact_main.c,$(wildcard tools/*.c))
TEST_SRC   := $(filter-out tests/planted_lib.c tests/misbehave_lib.c tests/claims_lib.c tests/abi1_paged_lib.c tests/manager_only_lib.c,$(wildcard tests/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

KERNEL_OBJ := $(call obj,$(KERNEL_SRC))
ORACLE_OBJ := $(call obj,$(ORACLE_SRC))
CORE_OBJ   := $(call obj,$(GEN_SRC) $(GOLDEN_SRC) $(REPORT_SRC) $(TOOL_SRC))
TEST_OBJ   := $(call obj,$(TEST_SRC))

LIBKVATTN  := $(BUILD)/libkvattn.a
LIBKVATTN_SO := $(BUILD)/libkvattn.so
KVCHECK    := $(BUILD)/kvcheck
TESTS      := $(BUILD)/tests/kvcheck_tests
LIBS        = $(GSL_LIBS) $(CJSON_LIBS) -lm -lpthread -ldl
# A kernel library with a planted bug, loaded by the tests through the C ABI.
PLANTED_SO := $(BUILD)/tests/libkvattn_planted_no_rescale.so
# A kernel library that crashes, hangs, exits or writes out of bounds on
# purpose (tests/misbehave_lib.c; KVC_MISBEHAVE says how).
MISBEHAVE_SO := $(BUILD)/tests/libkvattn_misbehave.so
CLAIMS_SO := $(BUILD)/tests/libkvattn_claims.so
ABI1_SO := $(BUILD)/tests/libkvattn_abi1_paged.so
# Libraries that claim only the block manager: libkvattn's, and one with
# mutant 38 (copy on write skipped) (tests/manager_only_lib.c).
MANAGER_SO := $(BUILD)/tests/libkvattn_manager_only.so
MANAGER_BAD_SO := $(BUILD)/tests/libkvattn_manager_no_cow.so
MANAGER_SRC := tests/manager_only_lib.c kernels/block_manager.c kernels/error.c \
               kernels/validate.c kernels/status.c
# libkvattn with planted bugs (kernels/mutants.def; `make mutants`); all
# builds the one tests/test_mutants.c checks the driver with.
MUTANT_DIR := $(BUILD)/mutants
MUTANT_FIXTURE := $(MUTANT_DIR)/libkvattn-m30.so $(MUTANT_DIR)/libkvattn-m34.so

# Example kernel plugins and their self-test (examples/README.md).
EXAMPLES_DIR := $(BUILD)/examples
EXAMPLE_SOS  := $(EXAMPLES_DIR)/libwrap_kvattn.so $(EXAMPLES_DIR)/libhalf_acc.so \
                $(EXAMPLES_DIR)/libwrong.so
EXAMPLES     := $(EXAMPLE_SOS) $(EXAMPLES_DIR)/selftest
# -ffp-contract=off: the half-acc kernel rounds every product to fp32.
EXAMPLE_CFLAGS := $(KERNEL_CFLAGS) -ffp-contract=off

CAMPAIGN_CASES ?= 20000
CAMPAIGN_SEED  ?= 1

# The oracle must reproduce the committed golden values bit for bit with
# every compiler and optimization level: one build per variant.
BITEXACT_VARIANTS := gcc-O0 gcc-O2 clang-O0 clang-O2
BITEXACT_SRC := $(ORACLE_SRC) $(GOLDEN_SRC) $(GEN_SRC) tools/oracle_bitexact_main.c
BITEXACT_BINS := $(patsubst %,$(BUILD)/bitexact/%/oracle-bitexact,$(BITEXACT_VARIANTS))
GOLDEN_FILES = $(sort $(wildcard golden/vectors/*.json golden/vectors/cache/*.json))

.PHONY: all deps test campaign clean check-valgrind check-asan golden-check bitexact bench \
        mutants mutants-build mutants-ci
.DEFAULT_GOAL := all

all: $(LIBKVATTN) $(LIBKVATTN_SO) $(KVCHECK) $(TESTS) $(PLANTED_SO) $(MISBEHAVE_SO) \
     $(CLAIMS_SO) $(ABI1_SO) $(MANAGER_SO) $(MANAGER_BAD_SO) $(EXAMPLES) \
     $(MUTANT_FIXTURE)

deps:
	@sh tools/install-deps.sh

# Every gate runs and is timed; a line per gate at the end, then
# Criterion's closing line (tools/run-gates.sh).
test: deps
	@$(MAKE) --no-print-directory all bitexact
	@MAKE="$(MAKE)" TESTS="$(TESTS)" sh tools/run-gates.sh

bitexact: $(BITEXACT_BINS)

# CI's golden gate: regeneration is byte-identical, the kernels pass every
# vector, and every oracle build reproduces every expected value exactly.
golden-check: $(KVCHECK) $(BITEXACT_BINS)
	@tmp=$$(mktemp -d) && \
	  $(KVCHECK) golden regen --out $$tmp --from golden/vectors > /dev/null && \
	  diff -r golden/vectors $$tmp > $$tmp.diff; rc=$$?; \
	  if [ $$rc -ne 0 ]; then head -40 $$tmp.diff; echo "golden: regeneration differs from the committed vectors (run: build/kvcheck golden regen)"; fi; \
	  rm -rf $$tmp $$tmp.diff; [ $$rc -eq 0 ] && echo "golden: regeneration is byte-identical"
	$(KVCHECK) golden verify
	@for v in $(BITEXACT_VARIANTS); do $(BUILD)/bitexact/$$v/oracle-bitexact $$v $(GOLDEN_FILES) || exit 1; done

$(BUILD)/bitexact/%/oracle-bitexact: $(BITEXACT_SRC)
	@mkdir -p $(dir $@)
	$(word 1,$(subst -, ,$*)) -std=c11 -D_GNU_SOURCE -$(word 2,$(subst -, ,$*)) \
	  -ffp-contract=off -fno-fast-math -w $(GSL_CFLAGS) $(CJSON_CFLAGS) \
	  -o $@ $(BITEXACT_SRC) $(GSL_LIBS) $(CJSON_LIBS) -lm

campaign: deps
	@$(MAKE) --no-print-directory $(KVCHECK)
	$(KVCHECK) run --cases $(CAMPAIGN_CASES) --seed $(CAMPAIGN_SEED) --kernel all

# The suite's power (README "Measuring the suite: make mutants"): libkvattn
# once per mutant of kernels/mutants.def (-DKVA_MUTANT=id plants one bug),
# each through the campaign and golden verify (kvcheck mutants). MUTANTS
# picks ids (default: the catalog); mutants-ci is the make-test gate's
# subset (quick kills, one per kind of verdict) plus the control, over the
# campaign's first MUTANTS_CI_CASES cases (its kills come in the first
# hundred; the whole campaign's control runs in make mutants).
MUTANT_IDS := $(shell grep -o '^KVA_MUTANT_DEF.[0-9]*' kernels/mutants.def | tr -dc '0-9\n')
MUTANTS    ?= $(MUTANT_IDS)
MUTANTS_CI ?= 1 8 11 13 16 24 30 33
MUTANTS_CI_CASES ?= 5000
mutant_lib  = $(MUTANT_DIR)/libkvattn-m$(shell printf '%02d' $(1)).so
MUTANT_ARGS ?=

mutants: $(KVCHECK) $(LIBKVATTN_SO)
	@$(MAKE) --no-print-directory mutants-build MUTANTS="$(MUTANTS)"
	$(KVCHECK) mutants --ids $(shell echo $(MUTANTS) | tr ' ' ',') $(MUTANT_ARGS)

mutants-ci: $(KVCHECK) $(LIBKVATTN_SO)
	@$(MAKE) --no-print-directory mutants-build MUTANTS="$(MUTANTS_CI)"
	$(KVCHECK) mutants --ids $(shell echo $(MUTANTS_CI) | tr ' ' ',') \
	  --cases $(MUTANTS_CI_CASES) --report $(MUTANT_DIR)/report-ci $(MUTANT_ARGS)

mutants-build: $(foreach i,$(MUTANTS),$(call mutant_lib,$(i)))

# A mutant library: the file of its mutation point (kernels/mutants.def
# names it) compiled with -DKVA_MUTANT=id, linked with the default build's
# other kernel objects (KVA_MUT(id) appears in that one file only:
# tests/test_mutants.c checks it).
MUTANT_TABLE := $(shell sed -n 's/^KVA_MUTANT_DEF.\([0-9]*\), *"[^"]*", *"\([^"]*\)".*/\1:\2/p' kernels/mutants.def)
define MUTANT_RULE
$(call mutant_lib,$(1)): $(MUTANT_DIR)/obj/m$(1).o $(filter-out $(BUILD)/obj/kernels/$(2:.c=.o),$(KERNEL_OBJ))
	$(CC) -shared $(SANFLAGS) -o $$@ $$^ -lm -lpthread
$(MUTANT_DIR)/obj/m$(1).o: kernels/$(2) $(wildcard kernels/*.h) kernels/mutants.def
	@mkdir -p $$(dir $$@)
	$(CC) $(KERNEL_CFLAGS) $(SANFLAGS) $(if $(filter attention_avx2.c,$(2)),-mavx2 -mfma -mf16c) -DKVA_MUTANT=$(1) -c $$< -o $$@
endef
$(foreach e,$(MUTANT_TABLE),$(eval $(call MUTANT_RULE,$(word 1,$(subst :, ,$(e))),$(word 2,$(subst :, ,$(e))))))

# The full benchmark (tools/cmd_bench.c): ceilings, decode, prefill and the
# oracle, every KV format, 1 and N threads; JSON for tracking. Run it on a
# quiet machine: `make bench BENCH_ARGS="--threads 8"` adds options.
BENCH_JSON ?= $(BUILD)/bench.json
BENCH_ARGS ?=
bench: $(KVCHECK)
	$(KVCHECK) bench --json $(BENCH_JSON) $(BENCH_ARGS)

# 200 cases of every kernel, then the misbehaving kernel library: under
# valgrind too, every misbehaviour is its own verdict and exit 1.
# 200 cases on the dispatched path (AVX2 where the CPU has it), 100 more on
# each forced path, 100 with 2 kernel threads (through the claims library:
# without large offsets, whose 16 GiB sparse pools and threads' stacks can
# exhaust valgrind's address space), then the misbehaving library. All with
# --size small: the size tiers' long cases (up to 10^8 work) would cost
# minutes each under valgrind; the ASan campaign draws them.
check-valgrind: $(KVCHECK) $(MISBEHAVE_SO) $(CLAIMS_SO)
	valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	  $(KVCHECK) run --cases 200 --kernel all --no-report --size small
	KVC_CLAIM=threads,no-large valgrind -q --error-exitcode=99 --leak-check=full \
	  --errors-for-leak-kinds=definite $(KVCHECK) run --cases 100 --seed 3 \
	  --kernel all --no-report --size small --kernel-lib $(CLAIMS_SO) --kernel-threads 2
	for isa in portable avx2; do \
	  KVATTN_ISA=$$isa valgrind -q --error-exitcode=99 --leak-check=full \
	    --errors-for-leak-kinds=definite $(KVCHECK) run --cases 100 --seed 2 \
	    --kernel all --no-report --size small || exit 1; done
	@# whole stateful sequences of seed 1 (the campaign's own): a block
	@# manager of 3,000 operations with prefix sharing (index 541), H2O over
	@# 2,000 (561), a ring cache with nvfp4 attention, 80 steps (1381)
	for i in 541 561 1381; do \
	  out=$$(valgrind -q --error-exitcode=99 --leak-check=full \
	    --errors-for-leak-kinds=definite $(KVCHECK) replay --seed 1 --case $$i \
	    --size small) || exit 1; \
	  echo "$$out" | grep "operations agree with the models" || \
	    { echo "check-valgrind: case $$i is no stateful sequence"; exit 1; }; done
	sh tests/gate-valgrind.sh $(KVCHECK) $(MISBEHAVE_SO)

# The whole tree under AddressSanitizer + UBSan: a campaign and the tests.
# (LSan ignores one leak inside libcriterion's own runner: tests/lsan.supp.)
ASAN_BUILD := $(BUILD)-asan
check-asan:
	@$(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) OPT=-O1 \
	  SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	  all
	$(ASAN_BUILD)/kvcheck run --cases 1000 --kernel all --no-report
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp $(ASAN_BUILD)/tests/kvcheck_tests --jobs 2 > $(ASAN_BUILD)/tests.log 2>&1 || \
	  { tail -40 $(ASAN_BUILD)/tests.log; exit 1; }
	@echo "asan+ubsan: $$(grep Synthesis $(ASAN_BUILD)/tests.log)"

# The AVX2 kernels (dispatched at run time, kernels/kva_isa.c); the file
# also sets these with a pragma, so builds that compile kernels/*.c in one
# command work too. The default build stays baseline x86-64.
$(BUILD)/obj/kernels/attention_avx2.o: KERNEL_CFLAGS += -mavx2 -mfma -mf16c

$(BUILD)/obj/kernels/%.o: kernels/%.c
	@mkdir -p $(dir $@)
	$(CC) $(KERNEL_CFLAGS) $(SANFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/oracle/%.o: oracle/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ORACLE_CFLAGS) $(SANFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_REST) $(SANFLAGS) $(GSL_CFLAGS) $(CJSON_CFLAGS) $(CRIT_CFLAGS) -DKVC_BUILD_DIR='"$(BUILD)"' -MMD -MP -c $< -o $@

# Every kernel object with kva_paged_attention renamed, the planted kernels,
# and tests/planted_lib.c exporting the planted kva_paged_attention.
$(PLANTED_SO): $(KERNEL_SRC) tests/planted_kernels.c tests/planted_lib.c
	@mkdir -p $(dir $@)
	$(CC) $(KERNEL_CFLAGS) -c tests/planted_lib.c -o $@.planted_lib.o
	$(CC) $(KERNEL_CFLAGS) -shared -Dkva_paged_attention=kva_real_paged_attention \
	  -o $@ $(KERNEL_SRC) tests/planted_kernels.c $@.planted_lib.o -lm

# An ABI 1 library: its capabilities entry points are renamed away, so it
# claims everything by their absence.
$(MISBEHAVE_SO): $(KERNEL_SRC) tests/misbehave_lib.c
	@mkdir -p $(dir $@)
	$(CC) $(KERNEL_CFLAGS) -c tests/misbehave_lib.c -o $@.wrapper.o
	$(CC) $(KERNEL_CFLAGS) -shared -Dkva_paged_attention=kva_real_paged_attention \
	  -Dkva_capabilities=kva_v1_hidden_capabilities \
	  -Dkva_abi_version=kva_v1_hidden_abi_version \
	  -o $@ $(KERNEL_SRC) $@.wrapper.o -lm -lpthread

# An ABI 1 library with kva_paged_attention alone (a loader fixture).
$(ABI1_SO): tests/abi1_paged_lib.c kernels/kvattn.h
	@mkdir -p $(dir $@)
	$(CC) $(KERNEL_CFLAGS) -shared -o $@ tests/abi1_paged_lib.c

$(MANAGER_SO): $(MANAGER_SRC) kernels/kvattn.h kernels/kva_internal.h
	@mkdir -p $(dir $@)
	$(CC) $(KERNEL_CFLAGS) -shared -o $@ $(MANAGER_SRC)

$(MANAGER_BAD_SO): $(MANAGER_SRC) kernels/kvattn.h kernels/kva_internal.h
	@mkdir -p $(dir $@)
	$(CC) $(KERNEL_CFLAGS) -DKVA_MUTANT=38 -shared -o $@ $(MANAGER_SRC)

# libkvattn behind a claim chosen by KVC_CLAIM (tests/claims_lib.c).
$(CLAIMS_SO): $(KERNEL_SRC) tests/claims_lib.c
	@mkdir -p $(dir $@)
	$(CC) $(KERNEL_CFLAGS) -c tests/claims_lib.c -o $@.wrapper.o
	$(CC) $(KERNEL_CFLAGS) -shared -Dkva_paged_attention=kva_real_paged_attention \
	  -Dkva_capabilities=kva_real_capabilities \
	  -Dkva_abi_version=kva_real_abi_version \
	  -o $@ $(KERNEL_SRC) $@.wrapper.o -lm

# The wrapper dlopens ../libkvattn.so at run time (no link dependency).
$(EXAMPLES_DIR)/libwrap_kvattn.so: examples/wrap_libkvattn.c kernels/kvattn.h | $(LIBKVATTN_SO)
	@mkdir -p $(dir $@)
	$(CC) $(EXAMPLE_CFLAGS) $(SANFLAGS) -shared -o $@ $< -ldl

$(EXAMPLES_DIR)/libhalf_acc.so: examples/half_acc_kernel.c kernels/kvattn.h
	@mkdir -p $(dir $@)
	$(CC) $(EXAMPLE_CFLAGS) $(SANFLAGS) -shared -o $@ $< -lm -lpthread

$(EXAMPLES_DIR)/libwrong.so: examples/wrong_kernel.c kernels/kvattn.h
	@mkdir -p $(dir $@)
	$(CC) $(EXAMPLE_CFLAGS) $(SANFLAGS) -shared -o $@ $< -lm

$(EXAMPLES_DIR)/selftest: $(BUILD)/obj/examples/selftest.o $(CORE_OBJ) $(ORACLE_OBJ) $(LIBKVATTN)
	@mkdir -p $(dir $@)
	$(CC) $(SANFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_REST) $(SANFLAGS) $(GSL_CFLAGS) $(CJSON_CFLAGS) -MMD -MP -c $< -o $@

$(LIBKVATTN): $(KERNEL_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBKVATTN_SO): $(KERNEL_OBJ)
	$(CC) -shared $(SANFLAGS) -o $@ $^ -lm -lpthread

$(KVCHECK): $(BUILD)/obj/tools/kvcheck_main.o $(CORE_OBJ) $(ORACLE_OBJ) $(LIBKVATTN)
	$(CC) $(SANFLAGS) -o $@ $^ $(LIBS)

$(TESTS): $(TEST_OBJ) $(CORE_OBJ) $(ORACLE_OBJ) $(LIBKVATTN)
	@mkdir -p $(dir $@)
	$(CC) $(SANFLAGS) -o $@ $^ $(CRIT_LIBS) $(LIBS)

clean:
	rm -rf $(BUILD) $(BUILD)-asan

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# Fuzzing builds (libFuzzer, AFL++, replay driver): see fuzz/README.md.
-include fuzz/fuzz.mk
