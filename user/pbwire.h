/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A protobuf wire-format writer for the hot export path: fields are written
 * straight into one growing buffer, in one pass, with no message tree.
 * A nested message is opened with zs_pb_begin (tag plus one reserved length
 * byte) and closed with zs_pb_end, which writes its length and, when that
 * needs more than one byte, moves the body up (rare: key-values are short;
 * only the few enclosing messages are long). A span (128 bytes to a few KiB)
 * is opened with zs_pb_begin2 (two bytes reserved) and closed with zs_pb_end2,
 * which moves the body only when its length needs one or three bytes.
 * Out of memory sets failed and turns every later call into a no-op.
 */
#ifndef ZS_PBWIRE_H
#define ZS_PBWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct zs_pb {
	uint8_t *buf;
	size_t len, cap;
	bool failed;
};

enum { ZS_PB_VARINT = 0, ZS_PB_I64 = 1, ZS_PB_LEN = 2, ZS_PB_I32 = 5 };

/* zs_pb_reserve's slow path: grows the buffer. */
bool zs_pb_grow(struct zs_pb *pb, size_t n);

/* Makes room for n more bytes; false (and failed set) when out of memory.
 * Inline: every field written asks, and there is room nearly always. */
static inline bool zs_pb_reserve(struct zs_pb *pb, size_t n)
{
	if (__builtin_expect(!pb->failed && pb->cap - pb->len >= n, 1))
		return true;
	return zs_pb_grow(pb, n);
}

/* Frees the buffer. */
void zs_pb_free(struct zs_pb *pb);

static inline size_t zs_pb_varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Writes v as a varint into p (room for 10 bytes); returns bytes written. */
static inline size_t zs_pb_put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static inline void zs_pb_tag_varint(struct zs_pb *pb, uint32_t field, uint32_t wt, uint64_t v)
{
	if (!zs_pb_reserve(pb, 15))
		return;
	pb->len += zs_pb_put_varint(pb->buf + pb->len, (uint64_t)field << 3 | wt);
	pb->len += zs_pb_put_varint(pb->buf + pb->len, v);
}

/* A varint field (int64, uint32, enum, bool); proto3 omits zero. */
static inline void zs_pb_uint(struct zs_pb *pb, uint32_t field, uint64_t v)
{
	if (v)
		zs_pb_tag_varint(pb, field, ZS_PB_VARINT, v);
}

/* A fixed-width field of `bytes` bytes, little-endian; proto3 omits zero. */
static inline void zs_pb_fixed(struct zs_pb *pb, uint32_t field, uint32_t wt, uint64_t v, int bytes)
{
	int i;

	if (!v || !zs_pb_reserve(pb, 15))
		return;
	pb->len += zs_pb_put_varint(pb->buf + pb->len, (uint64_t)field << 3 | wt);
	for (i = 0; i < bytes; i++)
		pb->buf[pb->len++] = (uint8_t)(v >> (8 * i));
}

static inline void zs_pb_fixed64(struct zs_pb *pb, uint32_t field, uint64_t v)
{
	zs_pb_fixed(pb, field, ZS_PB_I64, v, 8);
}

static inline void zs_pb_fixed32(struct zs_pb *pb, uint32_t field, uint32_t v)
{
	zs_pb_fixed(pb, field, ZS_PB_I32, v, 4);
}

/* A bytes or string field of n bytes (written even when n is 0). */
static inline void zs_pb_bytes(struct zs_pb *pb, uint32_t field, const void *p, size_t n)
{
	if (!zs_pb_reserve(pb, 20 + n))
		return;
	pb->len += zs_pb_put_varint(pb->buf + pb->len, (uint64_t)field << 3 | ZS_PB_LEN);
	pb->len += zs_pb_put_varint(pb->buf + pb->len, n);
	memcpy(pb->buf + pb->len, p, n);
	pb->len += n;
}

/* A string field; proto3 omits the empty string. */
static inline void zs_pb_str(struct zs_pb *pb, uint32_t field, const char *s)
{
	if (s && *s)
		zs_pb_bytes(pb, field, s, strlen(s));
}

/* Opens nested message field; returns the mark zs_pb_end takes. */
static inline size_t zs_pb_begin(struct zs_pb *pb, uint32_t field)
{
	if (!zs_pb_reserve(pb, 11))
		return 0;
	pb->len += zs_pb_put_varint(pb->buf + pb->len, (uint64_t)field << 3 | ZS_PB_LEN);
	pb->buf[pb->len] = 0;
	return pb->len++;
}

/* Opens nested message field whose body will be len bytes (no zs_pb_end:
 * nothing is moved afterwards). */
static inline void zs_pb_begin_len(struct zs_pb *pb, uint32_t field, size_t len)
{
	zs_pb_tag_varint(pb, field, ZS_PB_LEN, len);
}

/* Appends n raw bytes (an encoded field or message body). */
static inline void zs_pb_raw(struct zs_pb *pb, const void *p, size_t n)
{
	if (!zs_pb_reserve(pb, n))
		return;
	memcpy(pb->buf + pb->len, p, n);
	pb->len += n;
}

/* Closes the message opened at mark with `reserved` length bytes whose
 * length takes another number of bytes: the body moves (or a failed buffer
 * is left alone). zs_pb_end's and zs_pb_end2's rare path. */
void zs_pb_end_moved(struct zs_pb *pb, size_t mark, size_t reserved);

/* Closes the message opened at mark: writes its length before its body. */
static inline void zs_pb_end(struct zs_pb *pb, size_t mark)
{
	size_t body = pb->len - mark - 1;

	if (__builtin_expect(!pb->failed && body < 0x80, 1))
		pb->buf[mark] = (uint8_t)body;
	else
		zs_pb_end_moved(pb, mark, 1);
}

/* Opens a nested message whose body is expected to take a two-byte length
 * (128 bytes to 16 KiB): returns the mark zs_pb_end2 takes. */
static inline size_t zs_pb_begin2(struct zs_pb *pb, uint32_t field)
{
	if (!zs_pb_reserve(pb, 12))
		return 0;
	pb->len += zs_pb_put_varint(pb->buf + pb->len, (uint64_t)field << 3 | ZS_PB_LEN);
	pb->buf[pb->len] = pb->buf[pb->len + 1] = 0;
	pb->len += 2;
	return pb->len - 2;
}

/* Closes the message zs_pb_begin2 opened at mark. */
static inline void zs_pb_end2(struct zs_pb *pb, size_t mark)
{
	size_t body = pb->len - mark - 2;

	if (__builtin_expect(!pb->failed && body >= 0x80 && body < 0x4000, 1)) {
		pb->buf[mark] = (uint8_t)(body | 0x80);
		pb->buf[mark + 1] = (uint8_t)(body >> 7);
	} else {
		zs_pb_end_moved(pb, mark, 2);
	}
}

#endif
