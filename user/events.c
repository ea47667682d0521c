// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "events.h"

#include "clock.h"
#include "conn.h"
#include "listeners.h"
#include "metrics.h"
#include "tls.h"
#include "zerospan_abi.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int zs_events_validate(const void *data, size_t size)
{
	struct zs_event_hdr h;

	if (size < sizeof(h))
		return -1;
	memcpy(&h, data, sizeof(h));
	if (h.size != size)
		return -1;
	switch (h.type) {
	case ZS_EV_DATA: {
		struct zs_data_event ev;

		if (size < sizeof(ev))
			return -1;
		memcpy(&ev, data, sizeof(ev));
		if (ev.cap_len > ZS_CAPTURE_MAX || sizeof(ev) + ev.cap_len != size ||
		    ev.cap_len > ev.len || ev.tail_len > ZS_TAIL_LEN || ev.tail_len > ev.len ||
		    ev.dir > 1 || ev.start > ZS_START_RESPONSE)
			return -1;
		return ZS_EV_DATA;
	}
	case ZS_EV_CONN:
		if (size != sizeof(struct zs_conn_event))
			return -1;
		return ZS_EV_CONN;
	case ZS_EV_CLOSE:
		if (size != sizeof(struct zs_close_event))
			return -1;
		return ZS_EV_CLOSE;
	case ZS_EV_EXEC:
	case ZS_EV_DLOPEN:
		if (size != sizeof(struct zs_exec_event))
			return -1;
		return h.type;
	case ZS_EV_LISTEN:
	case ZS_EV_UNLISTEN:
		if (size != sizeof(struct zs_conn_event))
			return -1;
		return h.type;
	case ZS_EV_PROXY: {
		struct zs_proxy_event ev;

		if (size != sizeof(ev))
			return -1;
		memcpy(&ev, data, sizeof(ev));
		return ev.len <= ZS_PROXY_HDR_MAX ? ZS_EV_PROXY : -1;
	}
	}
	return -1;
}

/* One record of a sample. */
static void handle_one(const void *data, size_t size)
{
	int type = zs_events_validate(data, size);

	zs_count(events_received);
	switch (type) {
	case ZS_EV_DATA: {
		struct zs_data_event ev;

		/* Ringbuf records are 8-byte aligned: the struct can be used in place,
		 * a copy keeps this independent of that. */
		memcpy(&ev, data, sizeof(ev));
		zs_conn_on_data(&ev, (const uint8_t *)data + sizeof(ev));
		break;
	}
	case ZS_EV_CONN: {
		struct zs_conn_event ev;

		memcpy(&ev, data, sizeof(ev));
		zs_conn_on_open(&ev);
		break;
	}
	case ZS_EV_CLOSE: {
		struct zs_close_event ev;

		memcpy(&ev, data, sizeof(ev));
		zs_conn_on_close(&ev);
		break;
	}
	case ZS_EV_LISTEN:
	case ZS_EV_UNLISTEN: {
		struct zs_conn_event ev;

		memcpy(&ev, data, sizeof(ev));
		zs_listeners_on_event(&ev, type == ZS_EV_LISTEN);
		break;
	}
	case ZS_EV_EXEC: {
		struct zs_exec_event ev;

		memcpy(&ev, data, sizeof(ev));
		zs_tls_on_exec(ev.hdr.pid, zs_now_ns(CLOCK_MONOTONIC));
		break;
	}
	case ZS_EV_DLOPEN: {
		struct zs_exec_event ev;

		memcpy(&ev, data, sizeof(ev));
		zs_tls_on_dlopen(ev.hdr.pid, zs_now_ns(CLOCK_MONOTONIC));
		break;
	}
	case ZS_EV_PROXY: {
		struct zs_proxy_event ev;

		memcpy(&ev, data, sizeof(ev));
		zs_conn_on_proxy(&ev);
		break;
	}
	default:
		zs_count(events_malformed);
	}
}

int zs_events_handle(void *ctx, void *data, size_t size)
{
	const uint8_t *p = data;

	/* A sample holds one record or several back to back (a CONN record
	 * and the connection's first DATA record), each of its header's size;
	 * a size that does not fit ends the sample as one malformed record. */
	while (size >= sizeof(struct zs_event_hdr)) {
		struct zs_event_hdr h;

		memcpy(&h, p, sizeof(h));
		if (h.size < sizeof(h) || h.size >= size)
			break;
		handle_one(p, h.size);
		p += h.size;
		size -= h.size;
	}
	handle_one(p, size);
	return 0;
}

enum { RECORD_MAX = 256 << 20 };
static size_t recorded;

static int record_and_handle(void *ctx, void *data, size_t size)
{
	uint32_t n = (uint32_t)size;

	if (recorded + sizeof(n) + size <= RECORD_MAX) {
		recorded += sizeof(n) + size;
		fwrite(&n, sizeof(n), 1, ctx);
		fwrite(data, 1, size, ctx);
	}
	return zs_events_handle(NULL, data, size);
}

int (*zs_events_callback(void **ctx))(void *, void *, size_t)
{
	const char *path = getenv("ZEROSPAN_RECORD");
	FILE *f;
	int fd;

	*ctx = NULL;
	if (!path || !*path)
		return zs_events_handle;
	/* the records hold what the kernel copied (headers, Authorization
	 * included): readable by the owner only */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		log_error("ZEROSPAN_RECORD=%s: %s", path, strerror(errno));
		return zs_events_handle;
	}
	log_info("recording ringbuf records to %s (at most %d MiB)", path, RECORD_MAX >> 20);
	*ctx = f;
	return record_and_handle;
}
