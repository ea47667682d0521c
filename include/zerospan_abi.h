/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel <-> user ABI of zerospan: ringbuf events, map keys and values,
 * drop causes. Fixed-width types only, explicit padding, a size assert on
 * every struct, so the BPF object and the agent can never disagree.
 */
#ifndef ZEROSPAN_ABI_H
#define ZEROSPAN_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Largest payload prefix the kernel copies for one syscall (power of two). */
#define ZS_CAPTURE_MAX 16384
/* Bytes of a chunk's end sent when the chunk was not copied whole. */
#define ZS_TAIL_LEN 16
/* iovecs walked per readv/writev/recvmsg/sendmsg call. */
#define ZS_IOV_MAX 16
/* The injector's buffers per CPU (inject.bpf.c): one for a send, one for a
 * send that preempts it there; 33 KB each. */
#define ZS_INJ_SLOTS 2

/* Event types: X(name, value). Enum and name table are built from this list.
 * 4 (INJECT) is retired: contexts the kernel gives requests ride in their
 * DATA records. */
#define ZS_EVENT_TYPES(X)                                                        \
	X(DATA, 1)     /* payload of one socket read or write */                 \
	X(CONN, 2)     /* first sight of a connection: tuple, role, netns */     \
	X(CLOSE, 3)    /* the socket reached TCP_CLOSE */                        \
	X(EXEC, 5)     /* a process called exec: look for TLS libraries in it */ \
	X(LISTEN, 6)   /* a socket started listening (zs_conn_event layout) */   \
	X(UNLISTEN, 7) /* a listening socket closed (zs_conn_event layout) */    \
	X(DLOPEN, 8)   /* the dynamic loader changed the process's libraries */  \
	X(PROXY, 9)    /* a server read a PROXY protocol header first */

enum zs_event_type {
#define ZS_X(name, val) ZS_EV_##name = val,
	ZS_EVENT_TYPES(ZS_X)
#undef ZS_X
};

/* Where the kernel side loses data: X(name, help). Index into the drops map. */
/* What the injector did with an outgoing message, counted per CPU. */
#define ZS_INJECT_RESULTS(X)                                                                 \
	X(INJECTED, "traceparent inserted")                                                  \
	X(NOT_REQUEST, "message does not start with a request line")                         \
	X(HAS_CONTEXT, "request already carries a traceparent or B3 headers")                \
	X(FOREIGN_CONTEXT, "the request being served came with B3 only")                     \
	X(PIPELINED, "request sent before the previous response: left alone")                \
	X(INCOMPLETE, "header block not within the first bytes of the message")              \
	X(FAILED, "pushing or writing the header failed, message left as it was")            \
	X(UNREPORTED,                                                                        \
	  "injected, but no DATA record of the send took it: the CLIENT span lacks its id")  \
	X(WITHDRAWN, "connections taken out of injection because their app filled the send " \
		     "buffer")                                                               \
	X(TLS_LEFT, "TLS connections taken out of injection (nothing can be inserted into "  \
		    "their bytes)")                                                          \
	X(NOT_HTTP_LEFT, "connections taken out of injection because their first message "   \
			 "was no HTTP/1.x request")                                          \
	X(SCRATCH_REUSED, "sends preempted on this CPU held all its buffers: "               \
			  "message left as it was")                                          \
	X(ENROLLED_OPEN, "client connections already open when the agent started, taken "    \
			 "into injection")

/* What the start-up enrolment (enrol.bpf.c) made of each open TCP socket:
 * X(name, what). Counted in its run, logged by the loader. */
#define ZS_ENROL_RESULTS(X)                                                     \
	X(DONE, "enrolled")                                                     \
	X(NOT_OPEN, "not an established IPv4/IPv6 connection")                  \
	X(NOT_CLIENT, "accepted, or its port bound before connecting")          \
	X(OUT_OF_SCOPE, "out of scope (ports, processes)")                      \
	X(AGENT, "the agent's own")                                             \
	X(UNSUPPORTED, "the kernel lets no iterator set the sockops callbacks") \
	X(FAILED, "storage or sockhash update failed")

/* clang-format off */
enum zs_enrol_why {
#define ZS_X(name, what) ZS_ENROL_##name,
	ZS_ENROL_RESULTS(ZS_X)
#undef ZS_X
	ZS_ENROL__COUNT,
};

enum zs_inject_result {
#define ZS_X(name, help) ZS_INJ_##name,
	ZS_INJECT_RESULTS(ZS_X)
#undef ZS_X
	ZS_INJ__COUNT,
};
/* clang-format on */

#define ZS_DROP_CAUSES(X)                                                                          \
	X(RINGBUF_FULL, "ringbuf reservation failed, event lost")                                  \
	X(READ_FAILED, "copying the payload from user memory failed")                              \
	X(CONN_MAP_FULL, "connection state could not be stored")                                   \
	X(PENDING_MAP_FULL, "a send's start time could not be stored")                             \
	X(IOV_TRUNCATED, "an iovec array was longer than ZS_IOV_MAX, only its head was copied")    \
	X(TLS_UNMATCHED, "plaintext of a TLS library call with no known connection, not reported") \
	X(TLS_CALLS_FULL, "TLS library call arguments could not be stored")                        \
	X(SCRATCH_REUSED, "a preempted program's scratch buffer was reused, its record not sent")

/* clang-format cannot tell an X-macro expansion from an expression: */
/* clang-format off */
enum zs_drop_cause {
#define ZS_X(name, help) ZS_DROP_##name,
	ZS_DROP_CAUSES(ZS_X)
#undef ZS_X
	ZS_DROP__COUNT,
};
/* clang-format on */

/* Connections the kernel side stops looking at, by reason: X(name, help).
 * Index into the let_go map. */
#define ZS_LET_GO_REASONS(X)                                                               \
	X(NOT_HTTP_NOR_TLS, "connections whose first bytes were neither HTTP/1.x nor TLS " \
			    "(not traced): their later reads and writes skip capture")

/* clang-format off */
enum zs_let_go_reason {
#define ZS_X(name, help) ZS_LET_GO_##name,
	ZS_LET_GO_REASONS(ZS_X)
#undef ZS_X
	ZS_LET_GO__COUNT,
};
/* clang-format on */

/* Connection role, as seen from the traced process. */
enum zs_role {
	ZS_ROLE_UNKNOWN = 0, /* socket existed before the agent: inferred from traffic */
	ZS_ROLE_SERVER = 1,  /* accepted: we serve requests */
	ZS_ROLE_CLIENT = 2,  /* connected: we send requests */
};

/* Data direction, as seen from the traced process. */
enum zs_dir {
	ZS_DIR_EGRESS = 0,  /* write/send */
	ZS_DIR_INGRESS = 1, /* read/recv */
};

/* Syscall family that produced a DATA event. */
enum zs_op {
	ZS_OP_WRITE = 1,
	ZS_OP_READ = 2,
	ZS_OP_WRITEV = 3,
	ZS_OP_READV = 4,
	ZS_OP_SENDTO = 5,
	ZS_OP_RECVFROM = 6,
	ZS_OP_SENDMSG = 7,
	ZS_OP_RECVMSG = 8,
	ZS_OP_SENDFILE = 9,   /* bytes only, the payload lives in a file */
	ZS_OP_TLS_WRITE = 10, /* plaintext given to a TLS library (SSL_write...) */
	ZS_OP_TLS_READ = 11,  /* plaintext a TLS library returned (SSL_read...) */
};

/* Flat buffer (no iovec array) operations. */
#define ZS_OP_IS_FLAT(op)                                                       \
	((op) == ZS_OP_READ || (op) == ZS_OP_WRITE || (op) == ZS_OP_RECVFROM || \
	 (op) == ZS_OP_SENDTO || (op) == ZS_OP_TLS_WRITE || (op) == ZS_OP_TLS_READ)

/* What the kernel made of a chunk's first bytes. */
enum zs_start {
	ZS_START_NONE = 0,
	ZS_START_REQUEST = 1,
	ZS_START_RESPONSE = 2,
};

/* Common header of every ringbuf record. A ringbuf sample holds one record,
 * or several back to back, each as long as its header's size says: a
 * connection's CONN record comes in the same sample as its first DATA
 * record (one output instead of two for each new connection). */
struct zs_event_hdr {
	__u16 type; /* enum zs_event_type */
	__u16 size; /* bytes of the whole record, header and payload */
	__u32 pid;  /* tgid of the thread that made the syscall (0 in softirq) */
	__u32 tid;
	/* DATA starting a request, in a Go program (register ABI, its
	 * net/http probed): the goroutine the request is for, as a key with
	 * ZS_FLOW_BIT set. A server's request: the goroutine that read it (it
	 * runs the handler). A client's: the goroutine whose roundTrip handed
	 * it to the connection's writer goroutine, else the sender's own.
	 * 0 elsewhere (tid then stands for who reads or sends). */
	__u32 flow;
	__u64 ts_ns;  /* CLOCK_MONOTONIC */
	__u64 cookie; /* socket cookie: unique per boot, survives fd and pid reuse */
};
_Static_assert(sizeof(struct zs_event_hdr) == 32, "zs_event_hdr size");

/* Set in every zs_event_hdr.flow: a goroutine's key never equals a thread
 * id (at most 2^22). */
#define ZS_FLOW_BIT 0x80000000u

/* DATA: cap_len payload bytes follow the struct. */
enum zs_ctx_state {
	ZS_CTX_NONE = 0,
	ZS_CTX_ROOT = 1,     /* no valid incoming traceparent: a new trace */
	ZS_CTX_INCOMING = 2, /* continues the request's valid traceparent */
	ZS_CTX_FOREIGN = 3,  /* B3 only: userspace decides; calls are not injected */
};

/* How the context of a request a client sends (DATA, dir EGRESS) reaches
 * the server. */
enum zs_ctx_via {
	ZS_VIA_HEADER = 0,  /* a traceparent header inserted into the request */
	ZS_VIA_HANDOFF = 1, /* TLS: kept in the kernel for a server on this host */
};

/* A trace context decided in the kernel. */
struct zs_kernel_ctx {
	__u8 trace_id[16];
	__u8 span_id[8]; /* INCOMING: the caller's span; sent: the CLIENT span */
	__u8 flags;	 /* W3C trace-flags, sampling applied */
	__u8 state;	 /* enum zs_ctx_state */
	__u8 via;	 /* sent: enum zs_ctx_via */
	__u8 has_ts;	 /* kernel only: thread_ts holds this context's tracestate */
	__u32 check;	 /* kernel only, in thread_ctx: zs_ctx_check() of the rest */
};
_Static_assert(sizeof(struct zs_kernel_ctx) == 32, "zs_kernel_ctx size");

struct zs_data_event {
	struct zs_event_hdr hdr;
	__u64 pos;		/* byte position of this chunk in its direction */
	__u64 len;		/* bytes the syscall moved */
	__u32 cap_len;		/* payload bytes that follow (a prefix of the chunk) */
	__u8 dir;		/* enum zs_dir */
	__u8 op;		/* enum zs_op */
	__u8 start;		/* enum zs_start */
	__u8 tail_len;		/* valid bytes in tail[] (0 when cap_len == len) */
	__u8 tail[ZS_TAIL_LEN]; /* last bytes of the chunk when not copied whole */
	/* Injection on, dir INGRESS: the context the kernel gave the request a
	 * server reads, which it injects into the thread's calls (the SERVER
	 * span takes it, so both agree). dir EGRESS: the traceparent the
	 * injector inserted into this send, or the context handed off for a
	 * TLS request (via), the CLIENT span's ids. State NONE: neither. */
	struct zs_kernel_ctx ctx;
};
_Static_assert(sizeof(struct zs_data_event) == 104, "zs_data_event size");

/* CONN: a connection's identity, sent once before its first DATA. Also
 * LISTEN and UNLISTEN: a listening socket's local address (raddr zero). */
struct zs_conn_event {
	struct zs_event_hdr hdr;
	__u8 laddr[16]; /* IPv4 as ::ffff:a.b.c.d */
	__u8 raddr[16];
	__u16 lport; /* host byte order */
	__u16 rport;
	__u16 family;  /* AF_INET or AF_INET6 */
	__u8 role;     /* enum zs_role */
	__u8 tls;      /* 1: the payload comes from a TLS library, not the socket */
	__u32 netns;   /* network namespace inode */
	__u32 ppid;    /* parent's tgid: links calls of processes forked per request */
	__u8 comm[16]; /* task comm, a name for processes gone before we look */
	/* client: the thread that called connect() (0: not seen), and when
	 * (CLOCK_MONOTONIC ns) */
	__u32 connect_tid;
	__u32 _pad;
	__u64 connect_ns;
};
_Static_assert(sizeof(struct zs_conn_event) == 112, "zs_conn_event size");

/* CLOSE: the socket reached TCP_CLOSE. */
struct zs_close_event {
	struct zs_event_hdr hdr;
	__u64 bytes[2];	 /* bytes seen per enum zs_dir */
	__u32 old_state; /* TCP state before CLOSE: ESTABLISHED means reset/abort */
	__u32 _pad;
};
_Static_assert(sizeof(struct zs_close_event) == 56, "zs_close_event size");

/* PROXY: the PROXY protocol header (v1 or v2) a server read at a
 * connection's start, its first len bytes: who the load balancer's client
 * was. Sent after the connection's CONN record. */
#define ZS_PROXY_HDR_MAX 112
/* A v2 header's first 12 bytes ("\r\n\r\n\0\r\nQUIT\n"), as an initializer. */
#define ZS_PROXY_V2_SIG                                                         \
	{                                                                       \
		'\r', '\n', '\r', '\n', 0, '\r', '\n', 'Q', 'U', 'I', 'T', '\n' \
	}
struct zs_proxy_event {
	struct zs_event_hdr hdr;
	__u16 len;
	__u8 _pad[6];
	__u8 bytes[ZS_PROXY_HDR_MAX];
};
_Static_assert(sizeof(struct zs_proxy_event) == 152, "zs_proxy_event size");

/* EXEC: hdr.pid called exec (TLS libraries may have come with it).
 * DLOPEN: hdr.pid's dynamic loader ran its dlopen/dlclose hook. */
struct zs_exec_event {
	struct zs_event_hdr hdr;
};
_Static_assert(sizeof(struct zs_exec_event) == 32, "zs_exec_event size");

/* Value of the conn map (key: socket cookie). */
struct zs_conn_state {
	__u64 pos[2];	  /* bytes seen per direction (plaintext ones when tls) */
	__u64 ssl;	  /* tls: the library's session pointer in tgid's memory */
	__u32 budget[2];  /* header bytes still to copy per direction */
	__u32 rolling[2]; /* last 4 bytes scanned per direction (CRLFCRLF search) */
	__u32 tgid;
	__u16 probe_chunks; /* non-HTTP chunks seen while undecided */
	__u8 role;	    /* enum zs_role */
	__u8 http;	    /* enum zs_http_verdict */
	__u8 announced;	    /* CONN event sent */
	__u8 ignored;	    /* out of scope (port filter) */
	__u8 req_starts;    /* request-start chunks seen (wrapping counter) */
	__u8 resp_starts;   /* response-start chunks seen (wrapping counter) */
	__u8 pipelined;	    /* requests overlap: copy whole chunks, never cut bodies */
	__u8 ctx_pending;   /* server request: header block not yet scanned to its end */
	__u8 tls;	    /* plaintext comes from a TLS library: socket bytes ignored */
	__u8 go;	    /* its process is a Go program whose net/http is probed */
	__u32 connect_tid;  /* client: the thread that called connect(), for its CONN record */
	/* not go: the kernel's count of Go programs found (go_gen) + 1 when it
	 * last looked (0: never), so that it looks again only after a new one */
	__u32 go_gen;
	__u64 connect_ns;
};
_Static_assert(sizeof(struct zs_conn_state) == 72, "zs_conn_state size");

enum zs_http_verdict {
	ZS_HTTP_UNKNOWN = 0,
	ZS_HTTP_YES = 1,
	ZS_HTTP_NO = 2,
};

/* A socket call's arguments, built on the stack by the program that
 * captures it (sock_{send,recv}_length, a TLS call's return). */
struct zs_pending {
	__u64 buf; /* user buffer, or iovec array (sendfile: not read) */
	__u64 sk;  /* struct sock * seen by sock_{send,recv}_length */
	__u64 cookie;
	__u32 fd;
	__u32 iovcnt;
	__u64 ts; /* sent data: when the send began, it is stamped with that (0: now) */
	__u8 op;  /* enum zs_op */
	__u8 dir; /* enum zs_dir */
	__u8 _pad[6];
	/* A send: the context the injector put into it (state NONE: none),
	 * reported in the send's DATA record. */
	struct zs_kernel_ctx inj;
};
_Static_assert(sizeof(struct zs_pending) == 80, "zs_pending size");

/* How a TLS library call returns the byte count. */
enum zs_tls_ret {
	ZS_TLS_RET_INT = 0,  /* int: bytes, or <= 0 (SSL_read, SSL_write) */
	ZS_TLS_RET_EX = 1,   /* int > 0 on success, bytes in *arg4 (SSL_read_ex, SSL_write_ex,
			      * OpenSSL's ssl_read_internal and ssl_write_internal) */
	ZS_TLS_RET_LONG = 2, /* ssize_t: bytes, or < 0 (gnutls_record_recv/send) */
};

/* Value of the tls_calls map (task storage): a TLS library call in flight. */
struct zs_tls_call {
	__u64 ssl;    /* SSL * or gnutls_session_t */
	__u64 buf;    /* plaintext buffer */
	__u64 nbytes; /* ZS_TLS_RET_EX: where the library stores the byte count */
	__u64 cookie; /* socket the call read or wrote inside itself, 0 if none */
	__u64 sk;
	__u64 ts;    /* at the call's entry, as zs_pending.ts */
	__u64 len;   /* the call's byte count argument (num, size) */
	__u8 dir;    /* enum zs_dir */
	__u8 ret;    /* enum zs_tls_ret */
	__u8 active; /* entered, not yet returned */
	/* a write whose request's context was handed off when its first
	 * bytes went to the socket (hctx), before the server could read them */
	__u8 handed;
	__u8 op; /* at the return: the capture's enum zs_op (zs_tls_exit) */
	__u8 _pad[3];
	struct zs_kernel_ctx hctx;
};
_Static_assert(sizeof(struct zs_tls_call) == 96, "zs_tls_call size");

/* A socket as the TLS code remembers it (ssl_conns, thread_rx values). */
struct zs_sock_ref {
	__u64 cookie;
	__u64 sk;
};
_Static_assert(sizeof(struct zs_sock_ref) == 16, "zs_sock_ref size");

/* A TCP connection as its client sees it (handoff map key). */
struct zs_tuple_key {
	__u8 caddr[16]; /* client address, IPv4 as ::ffff:a.b.c.d */
	__u8 saddr[16]; /* server address */
	__u16 cport;
	__u16 sport;
	__u32 _pad;
};
_Static_assert(sizeof(struct zs_tuple_key) == 40, "zs_tuple_key size");

/* Key of ssl_conns: a library session pointer is only unique per process. */
struct zs_ssl_key {
	__u64 ssl;
	__u32 tgid;
	__u32 _pad;
};
_Static_assert(sizeof(struct zs_ssl_key) == 16, "zs_ssl_key size");

#endif /* ZEROSPAN_ABI_H */
