/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Connection table: one entry per traced TCP connection (key: socket
 * cookie), holding its two HTTP streams and the exchanges in flight, which
 * become spans when their response ends. Bounded in size, idle entries
 * expire, every drop is counted.
 */
#ifndef ZS_CONN_H
#define ZS_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "sampler.h"
#include "zerospan_abi.h"

struct zs_conn_opts {
	uint32_t max_conns;
	uint32_t idle_timeout_s;
	uint32_t capture_size;
	bool keep_query;
	struct zs_sampler sampler; /* all zero: parentbased_always_on */
	bool keep_errors;	   /* export ERROR spans of unsampled traces */
};

int zs_conn_table_init(const struct zs_conn_opts *o);
void zs_conn_table_fini(void);

void zs_conn_on_open(const struct zs_conn_event *ev);
void zs_conn_on_data(const struct zs_data_event *ev, const uint8_t *payload);
void zs_conn_on_close(const struct zs_close_event *ev);
/* A PROXY record: the connection's SERVER spans name the load balancer's
 * client as client.address. */
void zs_conn_on_proxy(const struct zs_proxy_event *ev);

/* Forgets connections idle since before now - idle_timeout. */
void zs_conn_expire(uint64_t now_mono_ns);

/* SERVER spans of requests from this host that ended before the agent saw
 * their CLIENT span wait for it (conn.c: park()): until a record made 50 ms
 * later has been handled, or 1 s by now_mono_ns; then they leave as roots.
 * UINT64_MAX: all. */
void zs_conn_release_parked(uint64_t now_mono_ns);

uint32_t zs_conn_count(void);

#endif
