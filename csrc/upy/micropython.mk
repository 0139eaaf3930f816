# MicroPython user C module "iotakernel" (make-based ports: unix, stm32, ...):
#   make -C ports/unix USER_C_MODULES=/path/to/iota_edge/csrc      (the directory that holds upy/)
IOTAKERNEL_DIR := $(USERMOD_DIR)
IOTAKERNEL_SRC := $(IOTAKERNEL_DIR)/..

SRC_USERMOD_C += $(IOTAKERNEL_DIR)/modiotakernel.c
SRC_USERMOD_LIB_C += $(addprefix $(IOTAKERNEL_SRC)/, trinary.c curl.c keccak.c kerl.c iss.c bundle.c mam.c chains.c \
                     lanes.c pow.c pow_x86.c pow_neon.c pow_threads.c)
CFLAGS_USERMOD += -I$(IOTAKERNEL_SRC) -DIK_NO_THREADS
