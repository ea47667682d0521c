/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Decoding of ringbuf records: validated, then handed to the connection table. */
#ifndef ZS_EVENTS_H
#define ZS_EVENTS_H

#include <stddef.h>

/* libbpf ring_buffer callback: a sample of one record or several back to
 * back (zerospan_abi.h). Never fails the poll: bad records are counted. */
int zs_events_handle(void *ctx, void *data, size_t size);

/* A developer aid for scripts/bench-agent.c: when ZEROSPAN_RECORD names a
 * file, every ringbuf record is also appended to it (4-byte length, then the
 * record), up to 256 MiB; the file (mode 0600) holds the payloads as the
 * kernel copied them, headers included. Returns the callback for ring_buffer__new and sets
 * *ctx. Logs and records nothing when the file cannot be created. */
int (*zs_events_callback(void **ctx))(void *, void *, size_t);

/* Checks one record; returns its type, or -1 if malformed. Pure (fuzzed). */
int zs_events_validate(const void *data, size_t size);

#endif
