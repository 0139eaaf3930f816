"""Curl-P transform for MicroPython's viper emitter (imported by curl.py only where the port has it).

Kept in its own module because a port without the native emitters rejects the decorator at compile time; curl.py
catches that and falls back to the portable loop.
"""
import micropython


@micropython.viper
def transform(state: ptr8, scratch: ptr8, walk: ptr16, sbox: ptr8, rounds: int):
    r = 0
    while r < rounds:
        i = 0
        while i < 729:
            scratch[i] = state[i]
            i += 1
        prev = int(scratch[0])
        i = 0
        while i < 728:
            cur = int(scratch[walk[i + 1]])
            state[i] = sbox[prev * 3 + cur]
            prev = cur
            i += 1
        state[728] = sbox[prev * 3 + int(scratch[0])]
        r += 1
