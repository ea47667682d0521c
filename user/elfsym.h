/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What an ELF file offers the uprobes: the file offsets of the TLS
 * library functions it defines (from .dynsym and .symtab, via libelf),
 * whether it carries TLS code we cannot see (Go's crypto/tls, BoringSSL
 * without symbols), and a Go program's net/http client functions (which
 * request a call belongs to: bpf/lib/goroutine.bpf.h).
 */
#ifndef ZS_ELFSYM_H
#define ZS_ELFSYM_H

#include <stddef.h>
#include <stdint.h>

/* X(id, symbol). The TLS functions zerospan probes, and the dynamic
 * loader's debugger hook (in ld.so: called around each dlopen, it tells
 * the agent to look at the process's libraries again; no return probe).
 * gnutls_record_send2 is looked up only: gnutls_record_send's probe may go
 * there. GNUTLS_RECV_TAIL is no symbol ('+' is in none): the place in
 * gnutls_record_recv its probe may move to, with its own program (see
 * place_probes). GO_*: a Go program's net/http (in .symtab: not in a
 * stripped binary), entry probes only (a return probe would break Go's
 * moving stacks), past their stack check (zs_site_go_entry). */
#define ZS_TLS_SYMS(X)                                        \
	X(SSL_WRITE, "SSL_write")                             \
	X(SSL_READ, "SSL_read")                               \
	X(SSL_WRITE_EX, "SSL_write_ex")                       \
	X(SSL_READ_EX, "SSL_read_ex")                         \
	X(GNUTLS_SEND, "gnutls_record_send")                  \
	X(GNUTLS_RECV, "gnutls_record_recv")                  \
	X(DL_DEBUG_STATE, "_dl_debug_state")                  \
	X(GNUTLS_SEND2, "gnutls_record_send2")                \
	X(GNUTLS_RECV_TAIL, "gnutls_record_recv+tail")        \
	X(GO_ROUND_TRIP, "net/http.(*persistConn).roundTrip") \
	X(GO_WRITE, "net/http.(*Request).write")

/* clang-format off */
enum zs_tls_sym {
#define ZS_X(id, name) ZS_TLS_SYM_##id,
	ZS_TLS_SYMS(ZS_X)
#undef ZS_X
	ZS_TLS_SYM__COUNT,
};
/* clang-format on */

extern const char *const zs_tls_sym_names[ZS_TLS_SYM__COUNT];

/* 1 for a Go net/http function (zs_elf_tls.go_http), not a TLS one. */
static inline int zs_tls_sym_is_go(int k)
{
	return k == ZS_TLS_SYM_GO_ROUND_TRIP || k == ZS_TLS_SYM_GO_WRITE;
}

/* TLS code in a file that the uprobes cannot cover. */
enum zs_tls_blind {
	ZS_TLS_BLIND_NONE = 0,
	ZS_TLS_BLIND_GO = 1,	    /* Go binary using crypto/tls */
	ZS_TLS_BLIND_BORINGSSL = 2, /* BoringSSL linked in without symbols */
};

struct zs_elf_tls {
	uint64_t off[ZS_TLS_SYM__COUNT];  /* file offset of each function, 0: absent */
	uint64_t size[ZS_TLS_SYM__COUNT]; /* its symbol's size (0: not given) */
	/* Where each function's uprobe (entry and return) goes: its offset, past
	 * an endbr64, or for SSL_read_ex / SSL_write_ex the internal function
	 * they share with SSL_read / SSL_write, whose own probe is then 0, or
	 * for gnutls_record_send the gnutls_record_send2 it calls, or for
	 * gnutls_record_recv its tail jump (probe[GNUTLS_RECV_TAIL], its own
	 * then 0; see probe_site.h). 0: not probed. */
	uint64_t probe[ZS_TLS_SYM__COUNT];
	int n_found; /* TLS functions (and the loader's hook) */
	int n_moved; /* probes moved where their function leads */
	/* 1: both Go net/http functions found, in the register ABI's shape
	 * (their probes placed) */
	int go_http;
	enum zs_tls_blind blind;
};

/*
 * Inspects the ELF file at path. look_blind: also look for TLS code without
 * symbols (costs a scan of read-only data; done for executables).
 * Returns 0, or -1 with a reason in err (not ELF, unreadable...).
 */
int zs_elf_tls_inspect(const char *path, int look_blind, struct zs_elf_tls *out, char *err,
		       size_t errlen);

#endif
