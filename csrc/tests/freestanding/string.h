/* Minimal <string.h> for the freestanding size/stack build (csrc/tests/size_report.py): the kernel needs only
 * these four, and a bare riscv64-unknown-elf toolchain ships no C library headers. */
#ifndef IK_FREESTANDING_STRING_H
#define IK_FREESTANDING_STRING_H
#include <stddef.h>
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
#endif
