/* startup_m3.c - vector table for the QEMU mps2-an385 (Cortex-M3) run of the known-answer tests: reset jumps to
 * newlib's rdimon _start (zeroes .bss, opens the semihosting handles, calls main, exits with its status). */
#include <stdint.h>

extern void _start(void);
extern uint32_t _estack;

void Default_Handler(void);
void Default_Handler(void)
{
    for (;;) {
    }
}

__attribute__((section(".isr_vector"), used)) const void *const vector_table[16] = {
    &_estack,          (void *)_start,          (void *)Default_Handler, (void *)Default_Handler,
    (void *)Default_Handler, (void *)Default_Handler, (void *)Default_Handler, 0,
    0,                 0,                       0,                       (void *)Default_Handler,
    (void *)Default_Handler, 0,                 (void *)Default_Handler, (void *)Default_Handler};
