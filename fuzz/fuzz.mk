# fuzz/fuzz.mk — every fuzzing build rule (included by the top Makefile).
# See fuzz/README.md.
#
#   make fuzz               libFuzzer + ASan + UBSan harnesses (clang)
#   make fuzz-afl           the same harnesses for AFL++ (afl-clang-fast)
#   make fuzz-replay        plain replay binaries (gcc -O1 -g, no sanitizer),
#                           for valgrind
#   make fuzz-replay-asan   replay binaries with ASan + UBSan (gcc)
#   make fuzz-planted       harnesses built against the planted buggy kernels
#   make fuzz-seeds         regenerate the seed corpora (fuzz/corpus/*/seed-*)
#   make fuzz-valgrind      the valgrind campaign (fuzz/valgrind-campaign.sh)
#   make fuzz-ci            the CI replay (fuzz/ci-replay.sh)
#   make fuzz-prove         prove the harnesses bite (fuzz/prove-planted.sh)
#   make fuzz-run           a libFuzzer campaign (fuzz/libfuzzer-campaign.sh)
#   make fuzz-clean         remove build/fuzz
#
# Outputs: build/fuzz/<flavor>/fuzz_<harness>, flavor in libfuzzer, afl,
# replay, replay-asan; helper tools in build/fuzz/tools/.

FZ            := $(BUILD)/fuzz
FUZZ_CLANG    ?= clang
FUZZ_GCC      ?= gcc
AFL_CC        ?= afl-clang-fast

# golden_parse is built once golden/ has sources.
FZ_HARNESSES  := crosscheck contract qeff cache_ops $(if $(GOLDEN_SRC),golden_parse)
FZ_LIB_SRC    := $(KERNEL_SRC) $(ORACLE_SRC) $(GEN_SRC) $(GOLDEN_SRC) \
                 $(REPORT_SRC) $(TOOL_SRC)
FZ_COMMON_SRC := fuzz/fuzz_helpers.c fuzz/fuzz_spec.c fuzz/fuzz_model.c
FZ_PLANTED_SRC := fuzz/planted/planted_kernels.c
# planted builds: harness:bug, with extra flags per harness (the planted
# contract build only drives paged attention, the entry point its kernel
# replaces, over F32 caches, the only format its bug touches, so an
# unrelated finding elsewhere cannot end a proof run)
FZ_PLANTED    := crosscheck:past_end contract:no_block_check
FZ_PLANTED_FLAGS_contract := -DFUZZ_CONTRACT_ENTRY=FZC_PAGED -DFUZZ_CONTRACT_F32

FZ_CFLAGS_libfuzzer   := -O1 -fno-omit-frame-pointer \
                         -fsanitize=fuzzer-no-link,address,undefined \
                         -fno-sanitize-recover=all
FZ_LDFLAGS_libfuzzer  := -fsanitize=fuzzer,address,undefined
FZ_CC_libfuzzer        = $(FUZZ_CLANG)
FZ_DRIVER_libfuzzer   :=

FZ_CFLAGS_afl         := -O1
FZ_LDFLAGS_afl        := -fsanitize=fuzzer
FZ_CC_afl              = $(AFL_CC)
FZ_DRIVER_afl         :=

FZ_CFLAGS_replay      := -O1
FZ_LDFLAGS_replay     :=
FZ_CC_replay           = $(FUZZ_GCC)
FZ_DRIVER_replay      := fuzz/replay.c

FZ_SAN_replay-asan    := -fsanitize=address,undefined -fno-sanitize-recover=all
FZ_CFLAGS_replay-asan := -O1 -fno-omit-frame-pointer $(FZ_SAN_replay-asan)
FZ_LDFLAGS_replay-asan := $(FZ_SAN_replay-asan)
FZ_CC_replay-asan      = $(FUZZ_GCC)
FZ_DRIVER_replay-asan := fuzz/replay.c

FZ_FLAVORS := libfuzzer afl replay replay-asan
FZ_LIBS     = $(GSL_LIBS) $(CJSON_LIBS) -lm -lpthread

fz_obj = $(patsubst %.c,$(FZ)/$(1)/obj/%.o,$(2))

# $(1) = flavor
define FZ_FLAVOR_RULES
$(FZ)/$(1)/obj/kernels/%.o: kernels/%.c
	@mkdir -p $$(@D)
	$$(FZ_CC_$(1)) $$(BASEFLAGS) $$(FZ_CFLAGS_$(1)) -MMD -MP -c $$< -o $$@

$(FZ)/$(1)/obj/oracle/%.o: oracle/%.c
	@mkdir -p $$(@D)
	$$(FZ_CC_$(1)) $$(BASEFLAGS) -ffp-contract=off -fno-fast-math $$(FZ_CFLAGS_$(1)) -MMD -MP -c $$< -o $$@

$(FZ)/$(1)/obj/%.o: %.c
	@mkdir -p $$(@D)
	$$(FZ_CC_$(1)) $$(BASEFLAGS) -ffp-contract=off $$(FZ_CFLAGS_$(1)) $$(GSL_CFLAGS) $$(CJSON_CFLAGS) -MMD -MP -c $$< -o $$@

$(FZ)/$(1)/libkvcheck_fuzz.a: $(call fz_obj,$(1),$(FZ_LIB_SRC))
	@mkdir -p $$(@D)
	rm -f $$@ && ar rcs $$@ $$^

$(FZ)/$(1)/fuzz_%: $(FZ)/$(1)/obj/fuzz/fuzz_%.o $(call fz_obj,$(1),$(FZ_COMMON_SRC) $(FZ_DRIVER_$(1))) $(FZ)/$(1)/libkvcheck_fuzz.a
	$$(FZ_CC_$(1)) $$(FZ_LDFLAGS_$(1)) -o $$@ $$^ $$(FZ_LIBS)
endef

# $(1) = flavor, $(2) = harness, $(3) = bug
define FZ_PLANTED_RULES
$(FZ)/$(1)/obj/fuzz/fuzz_$(2)-planted_$(3).o: fuzz/fuzz_$(2).c
	@mkdir -p $$(@D)
	$$(FZ_CC_$(1)) $$(BASEFLAGS) -ffp-contract=off $$(FZ_CFLAGS_$(1)) -DFUZZ_KERNEL=fz_planted_$(3) $$(FZ_PLANTED_FLAGS_$(2)) -MMD -MP -c $$< -o $$@

$(FZ)/$(1)/fuzz_$(2)_planted_$(3): $(FZ)/$(1)/obj/fuzz/fuzz_$(2)-planted_$(3).o $(call fz_obj,$(1),$(FZ_PLANTED_SRC) $(FZ_COMMON_SRC) $(FZ_DRIVER_$(1))) $(FZ)/$(1)/libkvcheck_fuzz.a
	$$(FZ_CC_$(1)) $$(FZ_LDFLAGS_$(1)) -o $$@ $$^ $$(FZ_LIBS)
endef

$(foreach f,$(FZ_FLAVORS),$(eval $(call FZ_FLAVOR_RULES,$(f))))
$(foreach f,libfuzzer replay replay-asan,$(foreach p,$(FZ_PLANTED),$(eval $(call FZ_PLANTED_RULES,$(f),$(word 1,$(subst :, ,$(p))),$(word 2,$(subst :, ,$(p)))))))

# Keep the objects of pattern-built binaries (make would delete them as
# intermediates).
.SECONDARY: $(foreach f,$(FZ_FLAVORS),$(call fz_obj,$(f),$(wildcard fuzz/fuzz_*.c) $(FZ_DRIVER_$(f))))

fz_bins    = $(addprefix $(FZ)/$(1)/fuzz_,$(FZ_HARNESSES))
fz_planted = $(foreach p,$(FZ_PLANTED),$(FZ)/$(1)/fuzz_$(word 1,$(subst :, ,$(p)))_planted_$(word 2,$(subst :, ,$(p))))

# Helper tools (plain gcc, the replay flavor's objects): the seed generator
# (it links the contract harness to probe its seeds' verdicts) and the
# campaign helper (random inputs, JSON summary).
$(FZ)/tools/make_seeds: $(FZ)/replay/obj/fuzz/make_seeds.o $(FZ)/replay/obj/fuzz/fuzz_contract.o $(call fz_obj,replay,$(FZ_COMMON_SRC)) $(FZ)/replay/libkvcheck_fuzz.a
	@mkdir -p $(@D)
	$(FUZZ_GCC) -o $@ $^ $(FZ_LIBS)

$(FZ)/tools/fuzz_tool: $(FZ)/replay/obj/fuzz/fuzz_tool.o
	@mkdir -p $(@D)
	$(FUZZ_GCC) -o $@ $^ $(CJSON_LIBS)

.PHONY: fuzz fuzz-afl fuzz-afl-check fuzz-replay fuzz-replay-asan fuzz-planted \
        fuzz-tools fuzz-seeds fuzz-valgrind fuzz-ci fuzz-prove fuzz-run fuzz-clean

fuzz: $(call fz_bins,libfuzzer)

fuzz-afl-check:
	@command -v $(AFL_CC) >/dev/null 2>&1 || { \
	  echo "fuzz-afl: $(AFL_CC) not found. Install AFL++:"; \
	  echo "  sudo apt-get install -y afl++"; exit 1; }

fuzz-afl: fuzz-afl-check
	@$(MAKE) --no-print-directory $(call fz_bins,afl)

fuzz-replay: $(call fz_bins,replay)

fuzz-replay-asan: $(call fz_bins,replay-asan)

fuzz-planted: $(call fz_planted,libfuzzer) $(call fz_planted,replay) $(call fz_planted,replay-asan)

fuzz-tools: $(FZ)/tools/make_seeds $(FZ)/tools/fuzz_tool

fuzz-seeds: $(FZ)/tools/make_seeds
	$(FZ)/tools/make_seeds fuzz/corpus

fuzz-valgrind: fuzz-replay $(FZ)/tools/fuzz_tool
	sh fuzz/valgrind-campaign.sh

fuzz-ci:
	sh fuzz/ci-replay.sh

fuzz-prove:
	sh fuzz/prove-planted.sh

fuzz-run: fuzz
	sh fuzz/libfuzzer-campaign.sh

fuzz-clean:
	rm -rf $(FZ)

-include $(shell find $(FZ) -name '*.d' 2>/dev/null)
