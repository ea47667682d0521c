/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HTTP/1.x parsing. Two layers:
 * - zs_http_parse_request/response: zero-copy header-block parsers with
 *   picohttpparser's contract (bytes consumed, -1 error, -2 incomplete; never
 *   read past len).
 * - zs_http_stream: frames the messages of one direction of a connection from
 *   chunks that are only partly visible (the kernel copies headers, counts
 *   bodies), so it knows where each message ends.
 */
#ifndef ZS_HTTP1_H
#define ZS_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZS_HTTP_MAX_HEADERS 128
#define ZS_HTTP_METHOD_MAX 16
#define ZS_HTTP_TARGET_MAX 512
#define ZS_HTTP_VALUE_MAX 256
#define ZS_HTTP_TRACEPARENT_MAX 64
#define ZS_HTTP_TRACESTATE_MAX 512

struct zs_http_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/*
 * Parses a request line and header block. On success returns the length of
 * the block (through the empty line) and fills the out-parameters, which
 * point into buf; *num_headers is in: capacity, out: headers stored (extra
 * headers are validated but not stored).
 */
int zs_http_parse_request(const char *buf, size_t len, const char **method, size_t *method_len,
			  const char **target, size_t *target_len, int *minor_version,
			  struct zs_http_header *headers, size_t *num_headers);

/* Same for a status line and header block. */
int zs_http_parse_response(const char *buf, size_t len, int *minor_version, int *status,
			   const char **reason, size_t *reason_len, struct zs_http_header *headers,
			   size_t *num_headers);

/* What a parsed message says about itself, copied out of the buffer. */
struct zs_http_msg {
	bool is_request;
	bool truncated; /* header block longer than the capture: start line only */
	int minor_version;
	int status;
	char method[ZS_HTTP_METHOD_MAX];
	char target[ZS_HTTP_TARGET_MAX];
	char host[ZS_HTTP_VALUE_MAX];
	char user_agent[ZS_HTTP_VALUE_MAX];
	char traceparent[ZS_HTTP_TRACEPARENT_MAX];
	char tracestate[ZS_HTTP_TRACESTATE_MAX];
	bool tracestate_overflow; /* longer than the buffer: not passed on */
	char b3[ZS_HTTP_TRACEPARENT_MAX + 16];
	/* Multi-header B3. Buffers are longer than any valid value, so a value
	 * cut to fit stays invalid. */
	char b3_trace[40];
	char b3_span[24];
	char b3_sampled[8];
	char b3_flags[4];
	int64_t content_length; /* -1 when absent */
	bool chunked;
	bool conn_close;
	bool conn_keep_alive;
	bool upgrade;
	bool te_present; /* Transfer-Encoding present (chunked or not) */
	uint32_t header_bytes;
	uint32_t num_headers;
};

/* Fills msg's header-derived fields from headers as the parsers above give
 * them (names of tchar bytes only: the names are compared a word at a time
 * on that basis). Returns 0, or -1 for framing headers that make the message
 * ambiguous (conflicting Content-Length, bad value). */
int zs_http_msg_from_headers(struct zs_http_msg *msg, const struct zs_http_header *h, size_t n);

enum zs_http_body {
	ZS_BODY_NONE,
	ZS_BODY_LENGTH,
	ZS_BODY_CHUNKED,
	ZS_BODY_UNTIL_CLOSE,
	ZS_BODY_TUNNEL, /* 101 Switching Protocols, CONNECT 2xx: no more HTTP here */
};

/* How a response's body is framed (RFC 9112 section 6.3). */
enum zs_http_body zs_http_response_body(const struct zs_http_msg *resp, const char *request_method);

/* How a request's body is framed. */
enum zs_http_body zs_http_request_body(const struct zs_http_msg *req);

/* Callbacks of a stream. on_headers returns how the body is framed. */
struct zs_http_stream_ops {
	enum zs_http_body (*on_headers)(void *user, const struct zs_http_msg *msg,
					const struct zs_http_header *h, size_t n);
	void (*on_complete)(void *user);
	/* The stream lost track (parse error, invisible bytes): the message in
	 * flight, if any, cannot be completed. */
	void (*on_lost)(void *user, const char *why);
};

enum zs_http_stream_state {
	ZS_HS_IDLE,
	ZS_HS_HEADERS,
	ZS_HS_BODY_LENGTH,
	ZS_HS_BODY_CHUNKED,
	ZS_HS_BODY_CLOSE,
	ZS_HS_RESYNC,
	ZS_HS_TUNNEL,
};

/* Chunked body decoder, for the body bytes that are visible. */
enum zs_chunk_state {
	ZS_CH_SIZE,
	ZS_CH_EXT,
	ZS_CH_DATA,
	ZS_CH_DATA_CR,
	ZS_CH_DATA_LF,
	ZS_CH_TRAILER_START,
	ZS_CH_TRAILER_LINE,
	ZS_CH_LAST_LF,
	ZS_CH_LOST, /* unseen bytes outside chunk data: fall back to the tail */
};

struct zs_http_stream {
	enum zs_http_stream_state state;
	bool parse_requests; /* else responses */
	char *hbuf;	     /* header bytes held across chunks */
	size_t hlen;
	size_t hmax; /* capture size: more than this is a truncated block */
	uint64_t body_left;
	uint8_t win[16]; /* last body bytes known, for the chunked terminator */
	uint8_t win_len;
	enum zs_chunk_state ch;
	uint64_t ch_left;    /* data bytes left in the current chunk */
	bool ch_size_digits; /* the size line had at least one digit */
	const struct zs_http_stream_ops *ops;
	void *user;
};

/* Global bound on header bytes held across chunks by all streams. */
extern size_t zs_http_hold_limit;
extern size_t zs_http_hold_used;

void zs_http_stream_init(struct zs_http_stream *s, bool parse_requests, size_t hmax,
			 const struct zs_http_stream_ops *ops, void *user);
void zs_http_stream_free(struct zs_http_stream *s);

/*
 * Feeds one chunk of total bytes: vis[0..vis_len) are its first bytes,
 * tail[0..tail_len) its last ones (may overlap vis), the rest unseen.
 * start says the chunk's first bytes look like a message start.
 */
void zs_http_stream_feed(struct zs_http_stream *s, const uint8_t *vis, size_t vis_len,
			 uint64_t total, const uint8_t *tail, size_t tail_len, bool start);

/* The connection ended: a body delimited by close is complete. */
void zs_http_stream_eof(struct zs_http_stream *s);

/* A tunnel was refused (upgrade answered without 101): parse HTTP again. */
void zs_http_stream_untunnel(struct zs_http_stream *s);

/* Forget the message in flight and wait for the next message start. */
void zs_http_stream_reset(struct zs_http_stream *s);

#endif /* ZS_HTTP1_H */
