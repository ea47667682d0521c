/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The contexts the bpf/tests programs take and give back under
 * BPF_PROG_RUN, shared with tests/bpf/bpf_runner.c so both sides agree on
 * the layout. Fixed-width types only (zerospan_abi.h's rules).
 */
#ifndef ZS_TEST_CTX_H
#define ZS_TEST_CTX_H

#include "zerospan_abi.h"

#define ZS_T_CLASSIFY_LEN 8 /* ZS_CLASSIFY_LEN, checked in http_class_test.bpf.c */
#define ZS_T_SCAN_MAX 64
#define ZS_T_TP_MAX 256
#define ZS_T_TP_HDR_LEN 70 /* ZS_TP_HDR_LEN, checked in trace_ctx_test.bpf.c */

struct zs_t_classify {
	__u8 buf[ZS_T_CLASSIFY_LEN];
	__u32 n;
	__u32 result; /* zs_classify_start() */
	__u32 opaque; /* zs_first_is_opaque() */
	__u32 _pad;
};

struct zs_t_scan {
	__u8 buf[ZS_T_SCAN_MAX];
	__u32 n;
	__u32 rolling; /* carried across calls, as per connection direction */
	__s32 end_at;  /* index of the byte that ends the header block, -1 if none */
	__u32 _pad;
};

#define ZS_T_PROXY_MAX 128 /* more than a v1 line's 107 bytes */

struct zs_t_proxy {
	__u8 buf[ZS_T_PROXY_MAX];
	__u32 n;
	__u32 result; /* zs_proxy_hdr_len() */
	__u32 maybe;  /* zs_proxy_maybe() */
	__u32 _pad;
};

struct zs_t_verdict {
	struct zs_conn_state st;
	__u32 start;
	__u32 report;
};

struct zs_t_may_start {
	struct zs_conn_state st;
	__u32 dir;
	__u32 result;
};

struct zs_t_enrol {
	__s32 family, state, fastreuse, fastreuseport, in_scope;
	__u32 result; /* enum zs_enrol_why */
};

struct zs_t_copy {
	__u64 len;
	__u32 budget;
	__u32 start;
	__u32 capture_size;
	__u32 result;
};

struct zs_t_tp {
	__u8 buf[ZS_T_TP_MAX]; /* a header block (request line first) */
	__u32 n;
	__s32 parsed; /* zs_tp_parse() result, or -2: no single traceparent */
	__u32 count;
	__u32 b3;
	__u32 end;
	__u32 ts_value;
	__u32 ts_len;
	__u32 ts_count;
	__u32 nl1; /* offset past the first "\n" (the injector's request line end) */
	__u32 _pad3;
	struct zs_kernel_ctx c;
	__u8 hdr[ZS_T_TP_HDR_LEN]; /* zs_tp_format(c) */
	__u8 _pad2[2];
};

/* bpf/lib/hdr_scan.bpf.h */
#define ZS_T_HSCAN_MAX 512

struct zs_t_hscan {
	__u8 buf[ZS_T_HSCAN_MAX];
	__u32 n;
	__u32 rolling;	   /* the direction's last 4 bytes before the chunk */
	__u32 is_response; /* the chunk starts a response */
	__u32 found;
	__u32 blocks;
	__u32 from;
	__u32 cut;
	__u32 rolling_out;
};

/* bpf/lib/tls.bpf.h */
/* bpf/lib/goroutine.bpf.h */
struct zs_t_go {
	__u64 g;
	__u64 then, now;
	__u32 flow;  /* out: zs_go_flow_of(g) */
	__u32 fresh; /* out: zs_go_fresh(then, now) */
};

struct zs_t_tls_ret {
	__u64 rc;
	__u64 nbytes;
	__u64 len; /* out */
	__u32 kind;
	__u32 _pad;
};

struct zs_t_tls_match {
	__u64 call_cookie;
	__u64 len;
	__u32 cached_ok;
	__u32 thread_ok;
	__u32 match; /* out */
	__u32 _pad;
};

struct zs_t_mark_tls {
	struct zs_conn_state st; /* in and out */
	__u64 ssl;
	__u32 tgid;
	__u32 _pad;
};

/* zs_ctx_store / zs_ctx_check: a written, then parts of b written over it
 * (tear bits 0-3: trace id low and high words, span id, flags..has_ts;
 * bit 4: b's check), then b written whole; does each copy check? */
struct zs_t_ctx_check {
	struct zs_kernel_ctx a;
	struct zs_kernel_ctx b;
	__u32 tear;
	__u32 ok_a;
	__u32 ok_torn;
	__u32 ok_b;
};

/* zs_id_next: 64 ids from state (updated) with salt. */
#define ZS_T_IDS 64
struct zs_t_ids {
	__u64 state;
	__u64 salt;
	__u64 out[ZS_T_IDS];
};

/* bpf/tests/scan_time.bpf.c: a chunk, which scan to time (0: none, the
 * program's own cost), what it found (so it is not optimised away). */
enum { ZS_T_TIME_NONE, ZS_T_TIME_HDR_SCAN, ZS_T_TIME_TP_SCAN };

struct zs_t_scan_time {
	__u8 buf[32768]; /* ZS_HS_BUF and ZS_TC_BUF, checked there */
	__u32 n;
	__u32 which;
	__u32 is_response;
	__u32 out;
};

/* conn_ctx_test.bpf.c's only global: contexts a (served at connect()) and b
 * (served since), what each step's call got and returned. */
#define ZS_T_CONN_STEPS 7
struct zs_t_conn_ctx {
	struct zs_kernel_ctx a, b;
	struct zs_kernel_ctx out[ZS_T_CONN_STEPS];
	__s32 ret[ZS_T_CONN_STEPS];
};

#endif
