// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Where the TLS uprobes go, on machine code written out byte by byte (the
 * encodings from the Intel SDM; objdump shows the same for Debian 12's
 * libssl.so.3), and on a small library assembled here whose SSL_* functions
 * take the shapes that must be moved and the shapes that must not.
 */
#include "elfsym.h"
#include "probe_site.h"
#include "zs_test.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const uint8_t ssl_read_ex[] = {
	0x48, 0x83, 0xec, 0x08,	      /* sub $0x8,%rsp */
	0xe8, 0xc7, 0xfd, 0xff, 0xff, /* call -0x239 */
	0x31, 0xd2,		      /* xor %edx,%edx */
};
static const uint8_t ssl_read[] = {
	0x48, 0x83, 0xec, 0x18,			     /* sub $0x18,%rsp */
	0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0, 0, 0, /* mov %fs:0x28,%rax */
	0x48, 0x89, 0x44, 0x24, 0x08,		     /* mov %rax,0x8(%rsp) */
	0x31, 0xc0,				     /* xor %eax,%eax */
	0x85, 0xd2,				     /* test %edx,%edx */
	0x78, 0x2f,				     /* js +0x2f */
	0x48, 0x89, 0xe1,			     /* mov %rsp,%rcx */
	0x48, 0x63, 0xd2,			     /* movslq %edx,%rdx */
	0xe8, 0x3d, 0xfe, 0xff, 0xff,		     /* call -0x1c3 */
};

static void check_bytes(void)
{
	static const uint8_t endbr_push[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x41, 0x55 };
	static const uint8_t endbr_sub[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x48, 0x83, 0xec, 0x18 };
	static const uint8_t push_r13[] = { 0x41, 0x55 }, push_rbp[] = { 0x55 };
	static const uint8_t tail[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0xe9, 0x10, 0, 0, 0 };
	static const uint8_t mov_first[] = { 0x48, 0x89, 0xf8, 0xe8, 0x10, 0, 0, 0 };
	static const uint8_t short_call[] = { 0xe8, 0x10, 0 };
	int e = -1;

	/* Debian 12's SSL_read_ex at 0x354c0 calls ssl_read_internal at 0x35290;
	 * SSL_read at 0x35430 calls it too */
	CHECK(zs_site_forward(0x354c0, ssl_read_ex, sizeof(ssl_read_ex)) == 0x35290, "forward");
	CHECK(zs_site_calls(0x35430, ssl_read, sizeof(ssl_read), 0x35290), "SSL_read calls it");
	CHECK(!zs_site_calls(0x35430, ssl_read, sizeof(ssl_read), 0x35291), "not another");
	CHECK(!zs_site_calls(0x35430, ssl_read, sizeof(ssl_read) - 1, 0x35290),
	      "a call cut by the end of the bytes read is not one");
	/* SSL_read is not a thin wrapper: a mov comes first */
	CHECK(zs_site_forward(0x35430, ssl_read, sizeof(ssl_read)) == 0, "not thin");
	CHECK(zs_site_forward(0x1000, mov_first, sizeof(mov_first)) == 0, "mov first");
	CHECK(zs_site_forward(0x1000, tail, sizeof(tail)) == 0x1000 + 9 + 0x10, "endbr64 jmp");
	CHECK(zs_site_forward(0x1000, short_call, sizeof(short_call)) == 0, "truncated");
	CHECK(zs_site_forward(0x1000, ssl_read_ex, 4) == 0, "only the sub");

	CHECK(zs_site_entry(0x35430, ssl_read, sizeof(ssl_read), &e) == 0x35430 && e == 0,
	      "sub first: single-stepped");
	CHECK(zs_site_entry(0x35290, push_r13, sizeof(push_r13), &e) == 0x35290 && e == 1,
	      "push %%r13");
	CHECK(zs_site_entry(0x2000, push_rbp, sizeof(push_rbp), &e) == 0x2000 && e == 1,
	      "push %%rbp");
	CHECK(zs_site_entry(0x2000, endbr_push, sizeof(endbr_push), &e) == 0x2004 && e == 1,
	      "past endbr64");
	CHECK(zs_site_entry(0x2000, endbr_sub, sizeof(endbr_sub), &e) == 0x2004 && e == 0,
	      "past endbr64, still single-stepped");
	CHECK(zs_site_entry(0x2000, endbr_push, 1, &e) == 0x2000 && e == 0, "one byte");
	CHECK(zs_site_entry(0x2000, endbr_push, 0, &e) == 0x2000 && e == 0, "no bytes");
	CHECK(zs_site_entry(0x2000, push_r13, 1, &e) == 0x2000 && e == 0, "0x41 alone");
}

/*
 * Reads: SSL_read_ex a thin wrapper of zs_read_internal (push first), which
 * SSL_read calls: moved. Writes: SSL_write_ex tail-calls zs_write_internal,
 * but SSL_write calls something else and the function right after it calls
 * zs_write_internal (inside the bytes read, past SSL_write's symbol size):
 * not moved, each past its endbr64.
 */
static const char asm_lib[] =
	"__asm__(\".text\\n"
	".globl SSL_read_ex, SSL_read, SSL_write_ex, SSL_write, zs_read_internal, "
	"zs_write_internal\\n"
	".type SSL_read_ex,@function\\n.type SSL_read,@function\\n"
	".type SSL_write_ex,@function\\n.type SSL_write,@function\\n"
	".type zs_read_internal,@function\\n.type zs_write_internal,@function\\n"
	"SSL_read_ex: sub $8,%rsp\\n call zs_read_local\\n add $8,%rsp\\n ret\\n"
	".size SSL_read_ex, .-SSL_read_ex\\n"
	"SSL_read: sub $0x18,%rsp\\n mov %rsp,%rcx\\n movslq %edx,%rdx\\n call zs_read_local\\n"
	" add $0x18,%rsp\\n ret\\n"
	".size SSL_read, .-SSL_read\\n"
	"zs_read_internal: zs_read_local: push %r13\\n xor %eax,%eax\\n pop %r13\\n ret\\n"
	".size zs_read_internal, .-zs_read_internal\\n"
	"SSL_write_ex: endbr64\\n jmp.d32 zs_write_local\\n"
	".size SSL_write_ex, .-SSL_write_ex\\n"
	"SSL_write: endbr64\\n sub $0x18,%rsp\\n call zs_other\\n add $0x18,%rsp\\n ret\\n"
	".size SSL_write, .-SSL_write\\n"
	"zs_after: sub $8,%rsp\\n call zs_write_local\\n add $8,%rsp\\n ret\\n"
	"zs_write_internal: zs_write_local: endbr64\\n push %rbx\\n pop %rbx\\n ret\\n"
	".size zs_write_internal, .-zs_write_internal\\n"
	"zs_other: ret\\n\");";

static void check_library(void)
{
	char dir[] = "/tmp/zs-site-XXXXXX", so[256], src[256], cmd[1024], err[256] = "";
	struct zs_elf_tls t;
	FILE *f;
	void *h;

	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		return;
	}
	snprintf(src, sizeof(src), "%s/lib.c", dir);
	snprintf(so, sizeof(so), "%s/libssl.so.3", dir);
	f = fopen(src, "w");
	CHECK(f && fputs(asm_lib, f) >= 0, "write %s", src);
	if (f)
		fclose(f);
	snprintf(cmd, sizeof(cmd), "cc -shared -fPIC -o %s %s 2>&1", so, src);
	CHECK(system(cmd) == 0, "%s", cmd);
	h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	CHECK(h != NULL, "dlopen: %s", dlerror());
	CHECK(zs_elf_tls_inspect(so, 0, &t, err, sizeof(err)) == 0, "%s", err);
	if (h) {
		uint8_t *rex = dlsym(h, "SSL_read_ex"), *rin = dlsym(h, "zs_read_internal");
		uint8_t *wex = dlsym(h, "SSL_write_ex");

		CHECK(t.n_found == 4 && t.n_moved == 1, "%d found, %d moved", t.n_found, t.n_moved);
		/* the read pair: one probe, on the internal function */
		CHECK(t.probe[ZS_TLS_SYM_SSL_READ] == 0, "SSL_read %llu",
		      (unsigned long long)t.probe[ZS_TLS_SYM_SSL_READ]);
		CHECK(rex && rin &&
			      t.probe[ZS_TLS_SYM_SSL_READ_EX] ==
				      t.off[ZS_TLS_SYM_SSL_READ_EX] + (uint64_t)(rin - rex),
		      "SSL_read_ex probed at %llu",
		      (unsigned long long)t.probe[ZS_TLS_SYM_SSL_READ_EX]);
		/* the write pair: each where it is, past its endbr64 */
		CHECK(t.probe[ZS_TLS_SYM_SSL_WRITE] == t.off[ZS_TLS_SYM_SSL_WRITE] + 4,
		      "SSL_write");
		CHECK(wex && t.probe[ZS_TLS_SYM_SSL_WRITE_EX] == t.off[ZS_TLS_SYM_SSL_WRITE_EX] + 4,
		      "SSL_write_ex");
		dlclose(h);
	}
	unlink(so);
	unlink(src);
	rmdir(dir);
}

/* The machine's libssl.so.3: wherever a probe goes, the code mapped there
 * starts with an instruction the kernel emulates, or is a function's own
 * entry (past an endbr64); no function lost (the pair's probe covers both). */
static void check_system_libssl(void)
{
	void *h = dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL);
	struct zs_elf_tls t;
	char err[256] = "";
	Dl_info info;
	int k;

	CHECK(h != NULL, "dlopen libssl.so.3: %s", dlerror());
	if (!h)
		return;
	CHECK(dladdr(dlsym(h, "SSL_read"), &info) && info.dli_fname, "dladdr");
	CHECK(zs_elf_tls_inspect(info.dli_fname, 0, &t, err, sizeof(err)) == 0, "%s", err);
	for (k = ZS_TLS_SYM_SSL_WRITE; k <= ZS_TLS_SYM_SSL_READ_EX; k++) {
		uint8_t *fn = dlsym(h, zs_tls_sym_names[k]), *at;
		int e;

		if (!t.probe[k])
			continue;
		at = fn + (t.probe[k] - t.off[k]);
		zs_site_entry(0, at, ZS_SITE_SCAN, &e);
		/* (0xcc: an agent on this machine has its own probe there) */
		CHECK(t.probe[k] - t.off[k] <= 4 || e || at[0] == 0xcc,
		      "%s moved to a single-stepped instruction", zs_tls_sym_names[k]);
		printf("probe_site: %s probed at %+lld from its symbol, %s\n", zs_tls_sym_names[k],
		       (long long)(t.probe[k] - t.off[k]), e ? "emulated" : "single-stepped");
	}
	/* both directions stay covered */
	CHECK(t.probe[ZS_TLS_SYM_SSL_READ] || t.probe[ZS_TLS_SYM_SSL_READ_EX], "reads");
	CHECK(t.probe[ZS_TLS_SYM_SSL_WRITE] || t.probe[ZS_TLS_SYM_SSL_WRITE_EX], "writes");
	dlclose(h);
}

/* Debian 12's gnutls_record_send at 0x3f2d0: xor %r8d,%r8d; xor %ecx,%ecx;
 * jmp gnutls_record_send2@plt (0x38f40), whose stub jumps through the GOT
 * slot at 0x216db8. */
static const uint8_t gnutls_send[] = { 0x45, 0x31, 0xc0, 0x31, 0xc9, 0xe9, 0x66, 0x9c, 0xff, 0xff };
static const uint8_t gnutls_plt[] = { 0xff, 0x25, 0x72, 0xde, 0x1d, 0x00, 0x68, 0xf1, 0x01 };

static void check_gnutls_bytes(void)
{
	static const uint8_t endbr_xor_jmp[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x31, 0xc0,
						 0xe9, 0x10, 0,	   0,	 0 };
	static const uint8_t xor_edx[] = { 0x31, 0xd2, 0xe9, 0x10, 0, 0, 0 };
	static const uint8_t xor_edi[] = { 0x31, 0xff, 0xe9, 0x10, 0, 0, 0 };
	static const uint8_t xor_esi[] = { 0x33, 0xf6, 0xe9, 0x10, 0, 0, 0 };
	static const uint8_t xor_two_regs[] = { 0x31, 0xc8, 0xe9, 0x10, 0, 0, 0 };
	static const uint8_t xor_rex_w[] = { 0x48, 0x31, 0xc0, 0xe9, 0x10, 0, 0, 0 };
	static const uint8_t xor_r10d[] = { 0x45, 0x31, 0xd2, 0xe9, 0x10, 0, 0, 0 };
	static const uint8_t xor_rex_rb[] = { 0x44, 0x31, 0xc0, 0xe9, 0x10, 0, 0, 0 };
	static const uint8_t call_not_jmp[] = { 0x31, 0xc9, 0xe8, 0x10, 0, 0, 0 };
	static const uint8_t mov_first[] = { 0x48, 0x89, 0xf8, 0xe9, 0x10, 0, 0, 0 };
	static const uint8_t plt_ibt[] = {
		0xf3, 0x0f, 0x1e, 0xfa, 0xf2, 0xff, 0x25, 0x10, 0, 0, 0
	};
	static const uint8_t not_plt[] = { 0xff, 0x24, 0x25, 0x10, 0, 0, 0 };

	CHECK(zs_site_tail_call(0x3f2d0, gnutls_send, sizeof(gnutls_send)) == 0x38f40,
	      "gnutls_record_send -> send2@plt");
	CHECK(zs_site_tail_call(0x3f2d0, gnutls_send, sizeof(gnutls_send) - 1) == 0,
	      "jmp cut short");
	CHECK(zs_site_plt_slot(0x38f40, gnutls_plt, sizeof(gnutls_plt)) == 0x216db8, "GOT slot");
	CHECK(zs_site_tail_call(0x1000, endbr_xor_jmp, sizeof(endbr_xor_jmp)) == 0x1000 + 11 + 0x10,
	      "endbr64, xor %%eax");
	CHECK(zs_site_tail_call(0x1000, xor_r10d, sizeof(xor_r10d)) == 0x1000 + 8 + 0x10,
	      "xor %%r10d");
	/* the first three arguments are the callee's: never changed */
	CHECK(zs_site_tail_call(0x1000, xor_edx, sizeof(xor_edx)) == 0, "xor %%edx");
	CHECK(zs_site_tail_call(0x1000, xor_edi, sizeof(xor_edi)) == 0, "xor %%edi");
	CHECK(zs_site_tail_call(0x1000, xor_esi, sizeof(xor_esi)) == 0, "xor %%esi (33 /r)");
	CHECK(zs_site_tail_call(0x1000, xor_two_regs, sizeof(xor_two_regs)) == 0,
	      "xor of two registers");
	CHECK(zs_site_tail_call(0x1000, xor_rex_w, sizeof(xor_rex_w)) == 0, "REX.W");
	CHECK(zs_site_tail_call(0x1000, xor_rex_rb, sizeof(xor_rex_rb)) == 0,
	      "REX.R without REX.B: %%r8d with %%eax");
	CHECK(zs_site_tail_call(0x1000, call_not_jmp, sizeof(call_not_jmp)) == 0, "a call");
	CHECK(zs_site_tail_call(0x1000, mov_first, sizeof(mov_first)) == 0, "a mov");
	CHECK(zs_site_plt_slot(0x2000, plt_ibt, sizeof(plt_ibt)) == 0x2000 + 11 + 0x10,
	      "endbr64 bnd jmp *(%%rip)");
	CHECK(zs_site_plt_slot(0x2000, not_plt, sizeof(not_plt)) == 0, "not RIP-relative");
	CHECK(zs_site_plt_slot(0x2000, gnutls_plt, 5) == 0, "stub cut short");
}

/* gnutls_record_send jumping through the PLT to gnutls_record_send2 (push
 * first): moved there. The same jump to another symbol's slot: not moved. */
static const char asm_gnutls_fmt[] =
	"__asm__(\".text\\n"
	".globl gnutls_record_send, gnutls_record_send2, gnutls_record_recv, zs_other\\n"
	".type gnutls_record_send,@function\\n.type gnutls_record_send2,@function\\n"
	".type gnutls_record_recv,@function\\n.type zs_other,@function\\n"
	"gnutls_record_send: xor %%r8d,%%r8d\\n xor %%ecx,%%ecx\\n jmp %s@PLT\\n"
	".size gnutls_record_send, .-gnutls_record_send\\n"
	"gnutls_record_send2: push %%rbx\\n pop %%rbx\\n ret\\n"
	".size gnutls_record_send2, .-gnutls_record_send2\\n"
	"zs_other: push %%rbx\\n pop %%rbx\\n ret\\n"
	".size zs_other, .-zs_other\\n"
	"gnutls_record_recv: sub $8,%%rsp\\n add $8,%%rsp\\n ret\\n"
	".size gnutls_record_recv, .-gnutls_record_recv\\n\");";

static void check_gnutls_library(const char *jump_to, int moved)
{
	char dir[] = "/tmp/zs-site-XXXXXX", so[256], src[256], cmd[1024], err[256] = "";
	struct zs_elf_tls t;
	FILE *f;

	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		return;
	}
	snprintf(src, sizeof(src), "%s/lib.c", dir);
	snprintf(so, sizeof(so), "%s/libgnutls.so.30", dir);
	f = fopen(src, "w");
	CHECK(f && fprintf(f, asm_gnutls_fmt, jump_to) > 0, "write %s", src);
	if (f)
		fclose(f);
	snprintf(cmd, sizeof(cmd), "cc -shared -fPIC -o %s %s 2>&1", so, src);
	CHECK(system(cmd) == 0, "%s", cmd);
	CHECK(zs_elf_tls_inspect(so, 0, &t, err, sizeof(err)) == 0, "%s", err);
	CHECK(t.n_found == 2 && t.n_moved == moved, "jump to %s: %d found, %d moved", jump_to,
	      t.n_found, t.n_moved);
	CHECK(t.probe[ZS_TLS_SYM_GNUTLS_SEND] ==
		      (moved ? t.off[ZS_TLS_SYM_GNUTLS_SEND2] : t.off[ZS_TLS_SYM_GNUTLS_SEND]),
	      "jump to %s: send probed at %#llx (send %#llx, send2 %#llx)", jump_to,
	      (unsigned long long)t.probe[ZS_TLS_SYM_GNUTLS_SEND],
	      (unsigned long long)t.off[ZS_TLS_SYM_GNUTLS_SEND],
	      (unsigned long long)t.off[ZS_TLS_SYM_GNUTLS_SEND2]);
	CHECK(t.probe[ZS_TLS_SYM_GNUTLS_SEND2] == 0, "send2 is not probed for itself");
	CHECK(t.probe[ZS_TLS_SYM_GNUTLS_RECV] == t.off[ZS_TLS_SYM_GNUTLS_RECV], "recv in place");
	unlink(so);
	unlink(src);
	rmdir(dir);
}

/* Debian 12's gnutls_record_recv at 0x3fa40, to its tail jump at 0x3fa86 and
 * the jump's rel32 (to 0x3e8b0, the internal receive). */
static const uint8_t gnutls_recv[] = {
	0x48, 0x83, 0xec, 0x08, 0x80, 0xbf, 0xb8, 0x06, 0x00, 0x00, 0x00, 0x48, 0x89, 0xd1, 0x74,
	0x40, 0xf6, 0x87, 0x68, 0x11, 0x00, 0x00, 0x01, 0x74, 0x17, 0x48, 0x89, 0xf2, 0xbe, 0x17,
	0x00, 0x00, 0x00, 0xe8, 0xea, 0x71, 0x05, 0x00, 0x48, 0x98, 0x48, 0x83, 0xc4, 0x08, 0xc3,
	0x0f, 0x1f, 0x00, 0x44, 0x8b, 0x8f, 0x70, 0x07, 0x00, 0x00, 0x48, 0x89, 0xf2, 0x45, 0x31,
	0xc0, 0xbe, 0x17, 0x00, 0x00, 0x00, 0x48, 0x83, 0xc4, 0x08, 0xe9, 0x25, 0xee, 0xff, 0xff,
};

static void check_gnutls_recv_bytes(void)
{
	uint8_t b[sizeof(gnutls_recv)];

	CHECK(zs_site_recv_tail(0x3fa40, gnutls_recv, sizeof(gnutls_recv)) == 0x3fa86,
	      "gnutls_record_recv's tail jump");
	CHECK(zs_site_forward(0x3fa86, gnutls_recv + 0x46, 5) == 0x3e8b0, "lands on the receive");
	CHECK(zs_site_recv_tail(0x3fa40, gnutls_recv, sizeof(gnutls_recv) - 1) == 0,
	      "rel32 cut short");
	/* the arguments not where the probe reads them: no move */
	memcpy(b, gnutls_recv, sizeof(b));
	b[0xb] = b[0xc] = b[0xd] = 0x90; /* mov %rdx,%rcx gone */
	CHECK(zs_site_recv_tail(0x3fa40, b, sizeof(b)) == 0, "no mov %%rdx,%%rcx");
	memcpy(b, gnutls_recv, sizeof(b));
	b[0x19] = b[0x37] = 0x90; /* both mov %rsi,%rdx spoiled */
	CHECK(zs_site_recv_tail(0x3fa40, b, sizeof(b)) == 0, "no mov %%rsi,%%rdx");
	memcpy(b, gnutls_recv, sizeof(b));
	b[0x45] = 0x10; /* add $0x10,%rsp: the stack is not at the entry's */
	CHECK(zs_site_recv_tail(0x3fa40, b, sizeof(b)) == 0, "stack not restored");
	memcpy(b, gnutls_recv, sizeof(b));
	b[0x46] = 0xe8; /* a call: the return address on the stack is not the caller's */
	CHECK(zs_site_recv_tail(0x3fa40, b, sizeof(b)) == 0, "a call");
	memcpy(b, gnutls_recv, sizeof(b));
	b[0x3e] = 0x16; /* another record type */
	CHECK(zs_site_recv_tail(0x3fa40, b, sizeof(b)) == 0, "type 0x16");
}

/* The machine's libgnutls.so.30: send's probe, wherever it goes, sits on an
 * instruction the kernel emulates (Debian 12's: on gnutls_record_send2). */
static void check_system_libgnutls(void)
{
	void *h = dlopen("libgnutls.so.30", RTLD_NOW | RTLD_LOCAL);
	struct zs_elf_tls t;
	char err[256] = "";
	Dl_info info;
	uint8_t *send2;
	int e;

	CHECK(h != NULL, "dlopen libgnutls.so.30: %s", dlerror());
	if (!h)
		return;
	send2 = dlsym(h, "gnutls_record_send2");
	CHECK(send2 && dladdr(send2, &info) && info.dli_fname, "dladdr");
	CHECK(zs_elf_tls_inspect(info.dli_fname, 0, &t, err, sizeof(err)) == 0, "%s", err);
	CHECK(t.n_moved == 2 && t.probe[ZS_TLS_SYM_GNUTLS_SEND] == t.off[ZS_TLS_SYM_GNUTLS_SEND2],
	      "gnutls_record_send probed at %#llx, send2 at %#llx",
	      (unsigned long long)t.probe[ZS_TLS_SYM_GNUTLS_SEND],
	      (unsigned long long)t.off[ZS_TLS_SYM_GNUTLS_SEND2]);
	zs_site_entry(0, send2, ZS_SITE_SCAN, &e);
	/* (0xcc: an agent on this machine has its own probe there) */
	CHECK(e || send2[0] == 0xcc,
	      "gnutls_record_send2 starts with a single-stepped instruction");
	/* recv's probe on its tail jump: a jmp (or an agent's int3 on it) */
	{
		uint8_t *recv = dlsym(h, "gnutls_record_recv");
		uint64_t tail = t.probe[ZS_TLS_SYM_GNUTLS_RECV_TAIL], at;

		CHECK(recv && tail > t.off[ZS_TLS_SYM_GNUTLS_RECV] &&
			      !t.probe[ZS_TLS_SYM_GNUTLS_RECV],
		      "gnutls_record_recv probed at %#llx", (unsigned long long)tail);
		at = tail - t.off[ZS_TLS_SYM_GNUTLS_RECV];
		if (recv && tail > t.off[ZS_TLS_SYM_GNUTLS_RECV] && at < ZS_SITE_SCAN)
			CHECK(recv[at] == 0xe9 || recv[at] == 0xcc, "recv's probe is not on a jmp");
	}
	dlclose(h);
}

/* Go 1.19's stack checks (objdump of tests/integration/servers/go_front):
 * net/http.(*persistConn).roundTrip, (*persistConn).writeLoop, and a small
 * frame's (internal/cpu.Initialize). */
static void check_go_bytes(void)
{
	static const uint8_t round_trip[] = {
		0x4c, 0x8d, 0xa4, 0x24, 0xd0, 0xfd, 0xff, 0xff, /* lea -0x230(%rsp),%r12 */
		0x4d, 0x3b, 0x66, 0x10,				/* cmp 0x10(%r14),%r12 */
		0x0f, 0x86, 0xc3, 0x0e, 0x00, 0x00,		/* jbe rel32 */
		0x48, 0x81, 0xec, 0xb0, 0x02, 0x00, 0x00,	/* sub $0x2b0,%rsp */
	};
	static const uint8_t write_loop[] = {
		0x4c, 0x8d, 0x64, 0x24, 0x90, /* lea -0x70(%rsp),%r12 */
		0x4d, 0x3b, 0x66, 0x10,	      /* cmp 0x10(%r14),%r12 */
		0x0f, 0x86, 0x06, 0x03, 0x00, 0x00,
	};
	static const uint8_t small[] = {
		0x49, 0x3b, 0x66, 0x10, /* cmp 0x10(%r14),%rsp */
		0x76, 0x38,		/* jbe rel8 */
		0x48, 0x83, 0xec, 0x28,
	};
	/* not Go's register ABI: g in %rcx (Go before 1.17 loads it from TLS) */
	static const uint8_t old_abi[] = { 0x48, 0x3b, 0x61, 0x10, 0x76, 0x38 };
	/* a stack check with another jump (not the growth branch's jbe) */
	static const uint8_t other_jump[] = { 0x49, 0x3b, 0x66, 0x10, 0x74, 0x38 };
	/* lea into %r12, then a cmp of %rsp: not the large-frame shape */
	static const uint8_t mixed[] = { 0x4c, 0x8d, 0x64, 0x24, 0x90, 0x49,
					 0x3b, 0x66, 0x10, 0x76, 0x38 };

	CHECK(zs_site_go_entry(0x639720, round_trip, sizeof(round_trip)) == 0x63972c,
	      "large frame: the jbe after lea and cmp");
	CHECK(zs_site_go_entry(0x6390e0, write_loop, sizeof(write_loop)) == 0x6390e9, "lea disp8");
	CHECK(zs_site_go_entry(0x401000, small, sizeof(small)) == 0x401004,
	      "small frame, jbe rel8");
	CHECK(zs_site_go_entry(0x1000, round_trip, 17) == 0, "jbe rel32 cut short");
	CHECK(zs_site_go_entry(0x1000, small, 5) == 0, "jbe rel8 cut short");
	CHECK(zs_site_go_entry(0x1000, old_abi, sizeof(old_abi)) == 0, "g not in %%r14");
	CHECK(zs_site_go_entry(0x1000, other_jump, sizeof(other_jump)) == 0, "je, not jbe");
	CHECK(zs_site_go_entry(0x1000, mixed, sizeof(mixed)) == 0, "lea then cmp %%rsp");
	CHECK(zs_site_go_entry(0x1000, ssl_read, sizeof(ssl_read)) == 0, "C code");
}

int main(void)
{
	check_bytes();
	check_go_bytes();
	check_library();
	check_system_libssl();
	check_gnutls_bytes();
	check_gnutls_recv_bytes();
	check_gnutls_library("gnutls_record_send2", 1);
	check_gnutls_library("zs_other", 0);
	check_system_libgnutls();
	return zs_test_done("probe_site");
}
