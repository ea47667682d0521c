// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "pbwire.h"

#include <stdlib.h>

bool zs_pb_grow(struct zs_pb *pb, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (pb->failed)
		return false;
	if (pb->cap - pb->len >= n)
		return true;
	cap = pb->cap ? pb->cap : 4096;
	while (cap - pb->len < n) {
		if (cap > SIZE_MAX / 2)
			goto fail;
		cap *= 2;
	}
	p = realloc(pb->buf, cap);
	if (!p)
		goto fail;
	pb->buf = p;
	pb->cap = cap;
	return true;
fail:
	pb->failed = true;
	return false;
}

void zs_pb_free(struct zs_pb *pb)
{
	free(pb->buf);
	pb->buf = NULL;
	pb->len = pb->cap = 0;
}

void zs_pb_end_moved(struct zs_pb *pb, size_t mark, size_t reserved)
{
	size_t body, k;

	if (pb->failed)
		return;
	body = pb->len - mark - reserved;
	k = zs_pb_varint_len(body);
	if (k > reserved && !zs_pb_reserve(pb, k - reserved))
		return;
	if (k != reserved) {
		memmove(pb->buf + mark + k, pb->buf + mark + reserved, body);
		pb->len = pb->len + k - reserved;
	}
	zs_pb_put_varint(pb->buf + mark, body);
}
