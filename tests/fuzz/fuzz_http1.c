// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: the header-block parsers and the stream framer. The
 * first input byte chooses how the rest is cut into chunks and how much of
 * each chunk is "visible" (the kernel copies headers, counts bodies), so the
 * framer sees the same shapes of input it gets from the ringbuf.
 */
#include "http1.h"
#include "zerospan_abi.h"

#include <string.h>

static enum zs_http_body on_headers(void *u, const struct zs_http_msg *m,
				    const struct zs_http_header *h, size_t n)
{
	(void)u;
	(void)h;
	(void)n;
	return m->is_request ? zs_http_request_body(m) : zs_http_response_body(m, "GET");
}

static void on_complete(void *u)
{
	++*(unsigned *)u;
}

static void on_lost(void *u, const char *why)
{
	(void)u;
	(void)why;
}

static const struct zs_http_stream_ops ops = { on_headers, on_complete, on_lost };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zs_http_header h[ZS_HTTP_MAX_HEADERS];
	const char *m, *t, *r;
	size_t ml, tl, rl, nh;
	int minor, status;
	struct zs_http_stream s;
	unsigned done = 0;
	uint8_t mode;

	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;

	nh = ZS_HTTP_MAX_HEADERS;
	zs_http_parse_request((const char *)data, size, &m, &ml, &t, &tl, &minor, h, &nh);
	nh = ZS_HTTP_MAX_HEADERS;
	zs_http_parse_response((const char *)data, size, &minor, &status, &r, &rl, h, &nh);

	zs_http_stream_init(&s, mode & 1, 64 + (mode & 0x30) * 16, &ops, &done);
	for (size_t off = 0; off < size;) {
		size_t step = 1 + (data[off] % ((mode >> 1 & 7) * 37 + 1));
		size_t vis, tail;

		if (step > size - off)
			step = size - off;
		vis = (mode & 0x40) ? step / 2 : step;
		tail = step - vis < ZS_TAIL_LEN ? step - vis : ZS_TAIL_LEN;
		/* A chunk may also claim more bytes than we have (a body counted,
		 * not copied): total is step plus the top bit's worth. */
		zs_http_stream_feed(&s, data + off, vis, step + ((mode & 0x80) ? data[off] : 0),
				    data + off + step - tail, tail,
				    data[off] == 'G' || data[off] == 'H');
		off += step;
	}
	zs_http_stream_eof(&s);
	zs_http_stream_free(&s);
	return 0;
}
