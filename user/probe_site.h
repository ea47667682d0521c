/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where a TLS function's uprobe goes (x86-64). A uprobe replaces the probed
 * instruction with int3; on a hit the kernel either emulates that
 * instruction (push of a register, nop, call/jmp) or copies it out of line
 * and single-steps it, a second trap. On the VMs measured the single-step is
 * the cost (9.5 us a hit against 0.95 for an emulated push, see
 * docs/BENCHMARKS.md), and libssl's SSL_read and SSL_write start with
 * `sub $imm,%rsp`, which is single-stepped. Their shared internal function
 * (ssl_read_internal / ssl_write_internal: SSL_read_ex's arguments and
 * result) starts with a push. These functions read machine code bytes only;
 * they take file offsets (a call's rel32 is the same in file offsets within
 * one segment).
 */
#ifndef ZS_PROBE_SITE_H
#define ZS_PROBE_SITE_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of a function's start the functions below look at. */
#define ZS_SITE_SCAN 128

/*
 * The entry probe's offset for a function at off whose first bytes are code
 * (len of them): past an `endbr64` (it changes no register nor the stack, so
 * arguments and the return address are where they are at the entry).
 * *emulated: 1 when the instruction there is one the kernel emulates
 * (push of a register).
 */
uint64_t zs_site_entry(uint64_t off, const uint8_t *code, size_t len, int *emulated);

/*
 * A thin wrapper: code (the function at off) is [endbr64] [sub $imm8,%rsp]
 * then `call rel32` or `jmp rel32`, so its callee gets the wrapper's
 * arguments untouched. Returns the callee's offset, or 0.
 */
uint64_t zs_site_forward(uint64_t off, const uint8_t *code, size_t len);

/* 1 when code (the function at off, len bytes of it) holds a `call rel32`
 * to target. */
int zs_site_calls(uint64_t off, const uint8_t *code, size_t len, uint64_t target);

/*
 * A tail call that only adds arguments: code (the function at off) is
 * [endbr64], then xors that zero registers other than the first three
 * arguments' (%edi, %esi, %edx), then `jmp rel32`. The callee gets the
 * function's first three arguments and its return address, and returns its
 * result (GnuTLS: gnutls_record_send is gnutls_record_send2 with padding and
 * flags 0, and starts with a single-stepped xor). Returns the jmp's target
 * offset, or 0.
 */
uint64_t zs_site_tail_call(uint64_t off, const uint8_t *code, size_t len);

/*
 * The GOT slot (a virtual address) a PLT stub jumps through: code, at virtual
 * address vaddr, is [endbr64] [bnd] `jmp *disp32(%rip)`. 0 if it is not.
 */
uint64_t zs_site_plt_slot(uint64_t vaddr, const uint8_t *code, size_t len);

/*
 * GnuTLS's gnutls_record_recv(s, data, n) starts with `sub $8,%rsp`
 * (single-stepped) and ends its usual path with a tail call of the internal
 * receive, (s, 0x17 application data, data, n, NULL, timeout):
 * `mov $0x17,%esi; add $8,%rsp; jmp rel32`, after `mov %rdx,%rcx` and
 * `mov %rsi,%rdx`. A probe on that jmp is emulated, sees data in %rdx and n
 * in %rcx, and finds the caller's return address on the stack (for the
 * return probe). Returns the jmp's offset when code (the function at off,
 * len bytes of it) has that shape, else 0.
 */
uint64_t zs_site_recv_tail(uint64_t off, const uint8_t *code, size_t len);

/*
 * A Go function (register ABI, Go 1.17+) starts with its stack check:
 * `cmp 0x10(%r14),%rsp`, or for a larger frame `lea -N(%rsp),%r12` then
 * `cmp 0x10(%r14),%r12` (g, in %r14, holds its stack guard at 0x10), then
 * `jbe` to the stack growth. The cmp is single-stepped; the jbe, a
 * conditional jump, is emulated, and the arguments (%rax, %rbx...) and g
 * are still as at the entry. Returns the jbe's offset when code (the
 * function at off, len bytes of it) has that shape, else 0 (the shape also
 * proves g is in %r14).
 */
uint64_t zs_site_go_entry(uint64_t off, const uint8_t *code, size_t len);

#endif
