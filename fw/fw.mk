# Firmware build, included by the top Makefile (which defines VPY, BUILD and STAMP).
#
# Every fw/programs/NAME.c becomes $(BUILD)/fw/NAME.elf: crt0.S + the runtime in fw/lib + the program, linked
# with fw/link.ld. Every fw/isa/NAME.S (a test in the style of riscv-tests, with its own environment,
# fw/isa/env.h) becomes $(BUILD)/fw/isa/NAME.elf, linked alone with fw/isa/link.ld. Addresses and ISA numbers reach
# C and assembly only through headers generated from hw/memmap.py and hw/cpu/isa.py by fw/gen_memmap_h.py.
#
# Compiler: the ziglang wheel's clang by default, for plain RV32I (no M, A or C). Another one can be named on
# the command line, e.g. `make fw CC=riscv64-unknown-elf-gcc` or `make fw CC=clang`; its RV32I flags are then
# chosen by the compiler's family. (A CC that only comes from the environment is ignored: it is usually the host
# compiler.) FW_CC overrides the whole compiler command.

FW_SRC      := fw
FW_BUILD    := $(BUILD)/fw
FW_OBJ      := $(FW_BUILD)/obj
FW_GEN_DIR  := $(FW_BUILD)/include
FW_GEN      := $(FW_GEN_DIR)/.stamp
FW_PROGRAMS := $(sort $(basename $(notdir $(wildcard $(FW_SRC)/programs/*.c))))
FW_ELFS     := $(patsubst %,$(FW_BUILD)/%.elf,$(FW_PROGRAMS))
FW_ISA_TESTS := $(sort $(basename $(notdir $(wildcard $(FW_SRC)/isa/*.S))))
FW_ISA_ELFS  := $(patsubst %,$(FW_BUILD)/isa/%.elf,$(FW_ISA_TESTS))

FW_ZIG_CC := $(VPY) -m ziglang cc -target riscv32-freestanding-none -mcpu=generic_rv32
ifeq ($(origin CC),command line)
FW_CC ?= $(CC)
else
FW_CC ?= $(FW_ZIG_CC)
endif

# Per-family flags that select RV32I + Zicsr, ILP32.
ifneq ($(findstring ziglang,$(FW_CC)),)
# The target and CPU are in the command; zig keeps its cache under build/ so that a build needs no $HOME.
FW_ARCH     :=
FW_LD_ARCH  :=
FW_QUIET    := -Wno-unused-command-line-argument
FW_TOOL_ENV := ZIG_GLOBAL_CACHE_DIR=$(abspath $(FW_BUILD))/zig-cache ZIG_LOCAL_CACHE_DIR=$(abspath $(FW_BUILD))/zig-cache
else ifneq ($(findstring clang,$(FW_CC)),)
FW_ARCH     := --target=riscv32-unknown-elf -march=rv32i_zicsr -mabi=ilp32
FW_LD_ARCH  := -fuse-ld=lld
FW_QUIET    :=
FW_TOOL_ENV :=
else
# GCC: riscv*-elf's uint32_t is `unsigned long`, which -Wformat holds against "%u"/"%x" (same width on RV32).
FW_ARCH     := -march=rv32i_zicsr -mabi=ilp32
FW_LD_ARCH  :=
FW_QUIET    := -Wno-format
FW_TOOL_ENV :=
endif

FW_CFLAGS := $(FW_ARCH) -std=gnu11 -O2 -g0 -ffreestanding -fno-builtin -nostdlib -fno-pic -fno-stack-protector \
             -fno-sanitize=all -fomit-frame-pointer -ffunction-sections -fdata-sections \
             -ffile-prefix-map=$(CURDIR)/= \
             -Wall -Wextra -Wno-unused-parameter $(FW_QUIET) \
             -I$(FW_SRC)/include -I$(FW_GEN_DIR)
FW_LDFLAGS := $(FW_ARCH) $(FW_LD_ARCH) -nostdlib -static -T $(FW_BUILD)/link.ld \
              -Wl,--gc-sections -Wl,--build-id=none

FW_LIB_SRCS := $(FW_SRC)/crt0.S $(sort $(wildcard $(FW_SRC)/lib/*.c))
FW_LIB_OBJS := $(patsubst $(FW_SRC)/%,$(FW_OBJ)/%.o,$(FW_LIB_SRCS))

# Quiet by default; `make fw V=1` shows the commands.
ifeq ($(V),1)
FW_Q :=
else
FW_Q := @
endif

.PHONY: fw fw-flags
fw: $(FW_ELFS) $(FW_ISA_ELFS)

# Rebuild everything when the compiler or its flags change: the file changes only when its content does.
FW_FLAGS_FILE := $(FW_BUILD)/flags
$(FW_FLAGS_FILE): fw-flags
	@mkdir -p $(@D)
	@echo '$(FW_CC) $(FW_CFLAGS) $(FW_LDFLAGS)' | cmp -s - $@ || echo '$(FW_CC) $(FW_CFLAGS) $(FW_LDFLAGS)' > $@

$(FW_GEN): $(FW_SRC)/gen_memmap_h.py hw/memmap.py hw/status_map.py hw/cpu/isa.py | $(STAMP)
	@echo "  GEN     $(FW_GEN_DIR)"
	$(FW_Q)$(VPY) $(FW_SRC)/gen_memmap_h.py $(FW_GEN_DIR)
	@touch $@

# The linker scripts take RAM's place and size from memmap.h through the C preprocessor.
$(FW_BUILD)/%.ld: $(FW_SRC)/%.ld $(FW_GEN) $(FW_FLAGS_FILE) | $(STAMP)
	@mkdir -p $(@D)
	@echo "  CPP     $@"
	$(FW_Q)$(FW_TOOL_ENV) $(FW_CC) $(FW_ARCH) $(FW_QUIET) -E -P -x assembler-with-cpp -I$(FW_GEN_DIR) $< -o $@

$(FW_OBJ)/%.c.o: $(FW_SRC)/%.c $(FW_GEN) $(FW_FLAGS_FILE) | $(STAMP)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(FW_Q)$(FW_TOOL_ENV) $(FW_CC) $(FW_CFLAGS) -MMD -MP -MF $@.d -c $< -o $@

$(FW_OBJ)/%.S.o: $(FW_SRC)/%.S $(FW_GEN) $(FW_FLAGS_FILE) | $(STAMP)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(FW_Q)$(FW_TOOL_ENV) $(FW_CC) $(FW_CFLAGS) -MMD -MP -MF $@.d -c $< -o $@

$(FW_BUILD)/%.elf: $(FW_OBJ)/programs/%.c.o $(FW_LIB_OBJS) $(FW_BUILD)/link.ld $(FW_FLAGS_FILE)
	@echo "  LD      $@"
	$(FW_Q)$(FW_TOOL_ENV) $(FW_CC) $(FW_LDFLAGS) -o $@ $< $(FW_LIB_OBJS)

$(FW_BUILD)/isa/%.elf: $(FW_OBJ)/isa/%.S.o $(FW_BUILD)/isa/link.ld $(FW_FLAGS_FILE)
	@echo "  LD      $@"
	$(FW_Q)$(FW_TOOL_ENV) $(FW_CC) $(FW_ARCH) $(FW_LD_ARCH) -nostdlib -static -T $(FW_BUILD)/isa/link.ld \
		-Wl,--build-id=none -o $@ $<

# The objects are only intermediate for make's chains, but keep them for incremental builds.
.SECONDARY: $(FW_LIB_OBJS) $(patsubst %,$(FW_OBJ)/programs/%.c.o,$(FW_PROGRAMS)) \
            $(patsubst %,$(FW_OBJ)/isa/%.S.o,$(FW_ISA_TESTS)) $(FW_BUILD)/link.ld $(FW_BUILD)/isa/link.ld

-include $(wildcard $(FW_OBJ)/*.d $(FW_OBJ)/*/*.d)
