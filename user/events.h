/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Decoding of ringbuf records: validated, then handed to the connection table. */
#ifndef ZS_EVENTS_H
#define ZS_EVENTS_H

#include <stddef.h>

/* libbpf ring_buffer callback. Never fails the poll: bad records are counted. */
int zs_events_handle(void *ctx, void *data, size_t size);

/* Checks one record; returns its type, or -1 if malformed. Pure (fuzzed). */
int zs_events_validate(const void *data, size_t size);

#endif
