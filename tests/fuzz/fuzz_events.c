// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: ringbuf records into the agent (validation, connection
 * table, pairing, span building). The input is a small program: each step
 * opens, feeds (with the kernel's context, inserted or handed off), gives a
 * PROXY protocol header to or closes one of four connections, expires the
 * table, or hands raw bytes to the record validator. Spans are built and freed.
 */
#include "conn.h"
#include "events.h"
#include "graph.h"
#include "http1.h"
#include "procinfo.h"
#include "span.h"
#include "zerospan_abi.h"

#include <stdlib.h>
#include <string.h>

static void sink(struct zs_span *s)
{
	zs_span_free(s);
}

static int inited;

static uint8_t take(const uint8_t **p, size_t *n)
{
	uint8_t b;

	if (*n == 0)
		return 0;
	b = **p;
	(*p)++;
	(*n)--;
	return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
	static uint8_t rec[sizeof(struct zs_data_event) + 4096];
	uint64_t pos[4][2] = { { 0 } };
	uint64_t now = 1000000000ull;

	if (!inited) {
		struct zs_conn_opts o = { .max_conns = 3,
					  .idle_timeout_s = 1,
					  .capture_size = 512 };

		zs_procinfo_init("/nonexistent", 8);
		zs_conn_table_init(&o);
		zs_span_sink = sink;
		/* small bounds, so the fuzzer reaches the overflow paths */
		zs_graph_init(&(struct zs_graph_opts){ 4, 64, 16 });
		zs_span_observer = zs_graph_observe;
		inited = 1;
	}
	while (n > 0) {
		uint8_t op = take(&p, &n);
		uint64_t cookie = 1 + (op >> 2 & 3);

		now += 1000 * take(&p, &n);
		switch (op & 3) {
		case 0: {
			struct zs_conn_event ev = { 0 };

			ev.hdr.type = ZS_EV_CONN;
			ev.hdr.size = sizeof(ev);
			ev.hdr.pid = 1 + (op >> 4);
			ev.hdr.ts_ns = now;
			ev.hdr.cookie = cookie;
			ev.family = (op & 0x40) ? 10 : 2;
			ev.role = take(&p, &n) % 4; /* 3 is invalid on purpose */
			ev.lport = 8080;
			ev.rport = 40000;
			zs_events_handle(NULL, &ev, sizeof(ev));
			break;
		}
		case 1: {
			struct zs_data_event *ev = (void *)rec;
			uint8_t f = take(&p, &n);
			size_t cap = take(&p, &n) * 8u;
			uint64_t extra = (f & 0x80) ? take(&p, &n) * 64u : 0;
			unsigned dir = f & 1;

			if (cap > n)
				cap = n;
			memset(ev, 0, sizeof(*ev));
			ev->hdr.type = ZS_EV_DATA;
			ev->hdr.size = sizeof(*ev) + cap;
			ev->hdr.pid = 1;
			ev->hdr.ts_ns = now;
			ev->hdr.cookie = cookie;
			ev->dir = dir;
			ev->start = f >> 1 & 3;	      /* 3 is invalid on purpose */
			ev->ctx.state = (f >> 3) & 3; /* the kernel's context, if any */
			ev->ctx.flags = f & 1;
			ev->ctx.via = (op & 0x40) ? ZS_VIA_HANDOFF : ZS_VIA_HEADER;
			ev->cap_len = cap;
			ev->len = cap + extra;
			if (f & 0x40) /* a gap: bytes the kernel never reported */
				pos[cookie - 1][dir] += 1 + (f & 0x30);
			ev->pos = pos[cookie - 1][dir];
			pos[cookie - 1][dir] += ev->len;
			memcpy(rec + sizeof(*ev), p, cap);
			if (ev->len > cap) {
				size_t t =
					ev->len - cap < ZS_TAIL_LEN ? ev->len - cap : ZS_TAIL_LEN;

				ev->tail_len = t;
				memcpy(ev->tail, "0\r\n\r\n\r\n\r\n\r\n\r\n\r\n", t);
			}
			p += cap;
			n -= cap;
			zs_events_handle(NULL, rec, sizeof(*ev) + cap);
			break;
		}
		case 2: {
			struct zs_close_event ev = { 0 };

			if (op & 0x80) { /* a PROXY protocol header the server read */
				struct zs_proxy_event pe = { 0 };
				size_t len = take(&p, &n) % (ZS_PROXY_HDR_MAX + 1);

				if (len > n)
					len = n;
				pe.hdr.type = ZS_EV_PROXY;
				pe.hdr.size = sizeof(pe);
				pe.hdr.ts_ns = now;
				pe.hdr.cookie = cookie;
				pe.len = (uint16_t)len;
				memcpy(pe.bytes, p, len);
				p += len;
				n -= len;
				zs_events_handle(NULL, &pe, sizeof(pe));
				break;
			}
			ev.hdr.type = ZS_EV_CLOSE;
			ev.hdr.size = sizeof(ev);
			ev.hdr.ts_ns = now;
			ev.hdr.cookie = cookie;
			ev.old_state = take(&p, &n) % 12;
			zs_events_handle(NULL, &ev, sizeof(ev));
			break;
		}
		default:
			if (op & 0x80) {
				zs_conn_expire(now + 2000000000ull);
			} else {
				size_t len = take(&p, &n);

				if (len > n)
					len = n;
				memcpy(rec, p, len);
				zs_events_handle(NULL, rec, len);
				p += len;
				n -= len;
			}
		}
	}
	/* Leave nothing behind for the next input: leak checks stay exact. */
	zs_conn_expire(now + 3600000000000ull);
	return 0;
}
