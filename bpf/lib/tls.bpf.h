/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * TLS library calls: which connection a call's plaintext belongs to, and
 * the switch of a connection from socket bytes to library plaintext.
 * Logic only (no maps), so the BPF tests can run it.
 */
#ifndef ZS_TLS_BPF_H
#define ZS_TLS_BPF_H

#include "zerospan_abi.h"

/* Bytes a finished TLS call moved, or 0 (error, would block, closed).
 * rc: the call's return register; nbytes: *arg4 for the _ex variants. */
static __always_inline __u64 zs_tls_ret_len(__u8 kind, __u64 rc, __u64 nbytes)
{
	switch (kind) {
	case ZS_TLS_RET_INT:
		return (int)rc > 0 ? (__u64)(int)rc : 0;
	case ZS_TLS_RET_EX:
		return (int)rc > 0 ? nbytes : 0;
	case ZS_TLS_RET_LONG:
		return (long)rc > 0 ? rc : 0;
	}
	return 0;
}

/*
 * From now on the connection's HTTP comes from the TLS library. What the
 * socket carried so far (the handshake) was never HTTP: positions and the
 * HTTP verdict start again at the first plaintext byte. A connection already
 * announced as plaintext HTTP keeps its positions (userspace would see them
 * go back); its socket bytes are ignored from here on all the same.
 */
static __always_inline void zs_conn_mark_tls(struct zs_conn_state *st, __u64 ssl, __u32 tgid)
{
	st->ssl = ssl;
	st->tgid = tgid;
	if (st->tls)
		return;
	st->tls = 1;
	if (st->announced)
		return;
	st->pos[0] = st->pos[1] = 0;
	st->budget[0] = st->budget[1] = 0;
	st->rolling[0] = st->rolling[1] = 0;
	st->http = ZS_HTTP_UNKNOWN;
	st->probe_chunks = 0;
	st->req_starts = st->resp_starts = 0;
	st->pipelined = 0;
	st->ctx_pending = 0;
}

/* Where a TLS call's socket comes from, best first. */
enum zs_tls_match {
	ZS_TLS_MATCH_NONE = 0,
	ZS_TLS_MATCH_SYSCALL = 1, /* the call read or wrote the socket itself */
	ZS_TLS_MATCH_CACHE = 2,	  /* the session was seen on this socket before */
	ZS_TLS_MATCH_THREAD = 3,  /* the thread's last non-HTTP read (memory BIOs: node) */
};

/*
 * Picks the socket for a call. cached_ok: the ssl_conns entry still names a
 * live TLS connection of this session. The thread's last read is trusted
 * only for a call that moved bytes (len > 0) and has nothing better: apps
 * with memory BIOs (node) read the ciphertext just before SSL_read and
 * write the request just after a handshake read.
 */
static __always_inline __u8 zs_tls_match(__u64 call_cookie, int cached_ok, int thread_ok, __u64 len)
{
	if (call_cookie)
		return ZS_TLS_MATCH_SYSCALL;
	if (cached_ok)
		return ZS_TLS_MATCH_CACHE;
	if (thread_ok && len > 0)
		return ZS_TLS_MATCH_THREAD;
	return ZS_TLS_MATCH_NONE;
}

#endif /* ZS_TLS_BPF_H */
