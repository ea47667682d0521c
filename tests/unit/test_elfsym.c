// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ELF inspection for the TLS uprobes, on the machine's real libraries: the
 * file offset found for each function must hold the bytes the dynamic
 * loader mapped at that function's address in this process (an independent
 * check of the offset arithmetic). TLS code without symbols is detected on
 * small programs built here with the markers a Go or BoringSSL binary
 * carries (no Go toolchain needed for this unit test).
 */
#include "elfsym.h"
#include "gopclntab.h"
#include "zs_test.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Bytes 1..15 of the function: byte 0 may be a uprobe's int3 if an agent
 * runs on this machine. */
static int same_code(const char *path, uint64_t off, const void *fn)
{
	unsigned char file[16];
	FILE *f = fopen(path, "rb");
	int ok;

	if (!f)
		return 0;
	ok = fseek(f, (long)off, SEEK_SET) == 0 && fread(file, 1, 16, f) == 16 &&
	     memcmp(file + 1, (const unsigned char *)fn + 1, 15) == 0;
	fclose(f);
	return ok;
}

static void check_library(const char *soname, int first, int last)
{
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	struct zs_elf_tls t;
	char err[256];
	Dl_info info;
	int k, expected = last - first + 1;
	void *fn;

	CHECK(h != NULL, "dlopen %s: %s", soname, dlerror());
	if (!h)
		return;
	fn = dlsym(h, zs_tls_sym_names[first]);
	CHECK(fn && dladdr(fn, &info) && info.dli_fname, "dladdr %s", zs_tls_sym_names[first]);
	if (!fn || !dladdr(fn, &info)) {
		dlclose(h);
		return;
	}
	CHECK(zs_elf_tls_inspect(info.dli_fname, 1, &t, err, sizeof(err)) == 0, "%s", err);
	CHECK(t.n_found == expected, "%s: %d functions, want %d", info.dli_fname, t.n_found,
	      expected);
	CHECK(t.blind == ZS_TLS_BLIND_NONE, "%s blind %d", info.dli_fname, t.blind);
	for (k = first; k <= last; k++) {
		fn = dlsym(h, zs_tls_sym_names[k]);
		CHECK(fn && t.off[k], "%s in %s", zs_tls_sym_names[k], soname);
		if (fn && t.off[k])
			CHECK(same_code(info.dli_fname, t.off[k], fn),
			      "%s: offset %llu does not hold the mapped code", zs_tls_sym_names[k],
			      (unsigned long long)t.off[k]);
	}
	dlclose(h);
}

/* The dynamic loader's dlopen hook: _dl_debug_state is GLIBC_PRIVATE,
 * which dlsym does not give out (dlvsym does). */
static void check_loader(void)
{
	void *fn = dlvsym(RTLD_DEFAULT, "_dl_debug_state", "GLIBC_PRIVATE");
	struct zs_elf_tls t;
	char err[256] = "";
	Dl_info info;

	CHECK(fn && dladdr(fn, &info) && info.dli_fname, "_dl_debug_state: %s", dlerror());
	if (!fn || !dladdr(fn, &info))
		return;
	CHECK(zs_elf_tls_inspect(info.dli_fname, 0, &t, err, sizeof(err)) == 0, "%s", err);
	CHECK(t.n_found == 1 && t.off[ZS_TLS_SYM_DL_DEBUG_STATE], "%s: %d found", info.dli_fname,
	      t.n_found);
	CHECK(same_code(info.dli_fname, t.off[ZS_TLS_SYM_DL_DEBUG_STATE], fn),
	      "%s: _dl_debug_state's offset does not hold the mapped code", info.dli_fname);
}

/* Builds a small program from src with cc; returns 0 on success. */
static int build(const char *src, const char *out)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "printf '%%s' '%s' | cc -x c -O0 -o %s - 2>&1", src, out);
	return system(cmd);
}

static void check_blind(void)
{
	char dir[] = "/tmp/zs-elfsym-XXXXXX", go[256], boring[256], plain[256], err[256];
	struct zs_elf_tls t;

	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		return;
	}
	snprintf(go, sizeof(go), "%s/go", dir);
	snprintf(boring, sizeof(boring), "%s/boring", dir);
	snprintf(plain, sizeof(plain), "%s/plain", dir);
	CHECK(build("__attribute__((section(\".go.buildinfo\"), used)) const char b[] = \"Go "
		    "buildinf:\"; const char *n = \"crypto/tls.(*Conn).Write\"; int main(void) { "
		    "return n[0] == 0; }",
		    go) == 0,
	      "cc go");
	CHECK(build("const char *v = \"BoringSSL\", *e = \"OPENSSL_internal\"; int main(void) { "
		    "return v[0] == e[0]; }",
		    boring) == 0,
	      "cc boring");
	CHECK(build("const char *v = \"crypto/tls\"; int main(void) { return v[0] == 0; }",
		    plain) == 0,
	      "cc plain");
	CHECK(zs_elf_tls_inspect(go, 1, &t, err, sizeof(err)) == 0 && t.blind == ZS_TLS_BLIND_GO,
	      "go: %d %s", t.blind, err);
	CHECK(zs_elf_tls_inspect(go, 0, &t, err, sizeof(err)) == 0 && t.blind == ZS_TLS_BLIND_NONE,
	      "not looked for: %d", t.blind);
	CHECK(zs_elf_tls_inspect(boring, 1, &t, err, sizeof(err)) == 0 &&
		      t.blind == ZS_TLS_BLIND_BORINGSSL,
	      "boring: %d %s", t.blind, err);
	/* "crypto/tls" in a program that is not Go means nothing, nor does the
	 * name BoringSSL alone (this agent's own messages hold it) */
	CHECK(zs_elf_tls_inspect(plain, 1, &t, err, sizeof(err)) == 0 &&
		      t.blind == ZS_TLS_BLIND_NONE && t.n_found == 0,
	      "plain: %d", t.blind);
	unlink(go);
	unlink(boring);
	unlink(plain);
	rmdir(dir);
}

/* A Go program's net/http functions, as Go 1.19 lays them out (their
 * stack checks: tests/unit/test_probe_site.c), in a program assembled
 * here: probed on their jbe, both or neither. fprintf format: write's body
 * is the %s. */
#define RT "\"net/http.(*persistConn).roundTrip\""
#define WR "\"net/http.(*Request).write\""
static const char go_s[] = ".section .go.buildinfo,\"a\"\n.ascii \"Go buildinf:\"\n.text\n"
			   ".globl " RT "\n.type " RT ", @function\n" RT ":\n"
			   "lea -0x230(%%rsp),%%r12\ncmp 0x10(%%r14),%%r12\njbe 1f\n1: ret\n"
			   ".size " RT ", .-" RT "\n"
			   ".globl " WR "\n.type " WR ", @function\n" WR ":\n"
			   "%s\n2: ret\n.size " WR ", .-" WR "\n"
			   ".globl main\nmain: xor %%eax,%%eax\nret\n"
			   ".section .note.GNU-stack,\"\",@progbits\n";

/* Assembles go_s with write's body; returns what inspecting it does. */
static int inspect_go(const char *dir, const char *write_body, struct zs_elf_tls *t)
{
	char src[256], out[256], cmd[1024], err[256];
	FILE *f;

	snprintf(src, sizeof(src), "%s/go.s", dir);
	snprintf(out, sizeof(out), "%s/gohttp", dir);
	f = fopen(src, "w");
	if (!f)
		return -1;
	fprintf(f, go_s, write_body);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cc -o %s %s 2>&1", out, src);
	if (system(cmd) != 0)
		return -1;
	return zs_elf_tls_inspect(out, 1, t, err, sizeof(err));
}

static void check_go_http(void)
{
	char dir[] = "/tmp/zs-elfsym-go-XXXXXX", path[300];
	struct zs_elf_tls t;

	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		return;
	}
	CHECK(inspect_go(dir, "cmp 0x10(%r14),%rsp\njbe 2f", &t) == 0, "build and inspect");
	CHECK(t.go_http && t.n_found == 0, "go_http %d, TLS functions %d", t.go_http, t.n_found);
	/* lea (8 bytes) and cmp (4): the jbe at 12; cmp alone (4): at 4 */
	CHECK(t.probe[ZS_TLS_SYM_GO_ROUND_TRIP] == t.off[ZS_TLS_SYM_GO_ROUND_TRIP] + 12 &&
		      t.probe[ZS_TLS_SYM_GO_WRITE] == t.off[ZS_TLS_SYM_GO_WRITE] + 4,
	      "probes on the jbe: %llu %llu",
	      (unsigned long long)(t.probe[ZS_TLS_SYM_GO_ROUND_TRIP] -
				   t.off[ZS_TLS_SYM_GO_ROUND_TRIP]),
	      (unsigned long long)(t.probe[ZS_TLS_SYM_GO_WRITE] - t.off[ZS_TLS_SYM_GO_WRITE]));
	/* write without the register ABI's stack check: neither is probed */
	CHECK(inspect_go(dir, "mov %rcx,%rax", &t) == 0 && !t.go_http &&
		      !t.probe[ZS_TLS_SYM_GO_ROUND_TRIP] && !t.probe[ZS_TLS_SYM_GO_WRITE] &&
		      t.off[ZS_TLS_SYM_GO_ROUND_TRIP],
	      "one function not in shape: none probed");
	snprintf(path, sizeof(path), "%s/go.s", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/gohttp", dir);
	unlink(path);
	rmdir(dir);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* Go's function table, written out here in its 1.18+ layout: two
 * functions; then damaged in each way the reader must refuse or skip. */
static void check_gopclntab_bytes(void)
{
	static const char names_blob[] = "main.main\0net/http.(*Request).write";
	const char *want[2] = { "net/http.(*Request).write", "net/http.(*persistConn).roundTrip" };
	uint8_t t[256] = { 0 };
	uint64_t addr[2], size[2];
	const uint32_t fname = 72, pcln = 112;

	put32(t, 0xfffffff0u);
	t[6] = 1;		 /* minLC */
	t[7] = 8;		 /* ptrSize */
	put64(t + 8, 2);	 /* nfunc */
	put64(t + 24, 0x401000); /* textStart */
	put64(t + 32, fname);
	put64(t + 64, pcln);
	memcpy(t + fname, names_blob, sizeof(names_blob));
	/* functab: (entry, _func) x 2, then the end's entry */
	put32(t + pcln, 0x10);
	put32(t + pcln + 4, 40);
	put32(t + pcln + 8, 0x50);
	put32(t + pcln + 12, 48);
	put32(t + pcln + 16, 0x90);
	/* _func: entryOff, nameOff */
	put32(t + pcln + 40, 0x10);
	put32(t + pcln + 44, 0);
	put32(t + pcln + 48, 0x50);
	put32(t + pcln + 52, 10);
	CHECK(zs_gopclntab_find(t, sizeof(t), want, 2, addr, size) == 1 && addr[0] == 0x401050 &&
		      size[0] == 0x40 && addr[1] == 0 && size[1] == 0,
	      "found one: %llx %llx", (unsigned long long)addr[0], (unsigned long long)size[0]);
	put32(t, 0xfffffff1u); /* Go 1.20's */
	CHECK(zs_gopclntab_find(t, sizeof(t), want, 2, addr, size) == 1, "1.20 magic");
	CHECK(zs_gopclntab_find(t, 60, want, 2, addr, size) == -1, "header cut");
	CHECK(zs_gopclntab_find(t, pcln + 16, want, 2, addr, size) == -1, "functab cut");
	put64(t + 8, 1ull << 40);
	CHECK(zs_gopclntab_find(t, sizeof(t), want, 2, addr, size) == -1, "nfunc past the end");
	put64(t + 8, 2);
	put32(t + pcln + 52, 0x7ffffff0u); /* the name past the end */
	CHECK(zs_gopclntab_find(t, sizeof(t), want, 2, addr, size) == 0 && addr[0] == 0,
	      "name offset out of range: skipped");
	put32(t + pcln + 52, 0xfffffff0u); /* negative: before the name table */
	CHECK(zs_gopclntab_find(t, sizeof(t), want, 2, addr, size) == 0, "negative name offset");
	put32(t + pcln + 52, 10);
	put32(t + pcln + 12, 250); /* _func past the end */
	CHECK(zs_gopclntab_find(t, sizeof(t), want, 2, addr, size) == 0, "_func out of range");
	put32(t + pcln + 12, 48);
	put32(t, 0xfffffffau); /* Go 1.16-1.17's layout */
	CHECK(zs_gopclntab_find(t, sizeof(t), want, 2, addr, size) == -1, "older layout");
	put32(t, 0xfffffff0u);
	t[7] = 4;
	CHECK(zs_gopclntab_find(t, sizeof(t), want, 2, addr, size) == -1, "4-byte pointers");
}

/* The Go front the integration tests run, built by scripts/deps.sh test
 * with and without its symbol table: the same probes from Go's own table. */
static void check_go_stripped(void)
{
	const char *full = "build/go/go_front", *stripped = "build/go/go_front_stripped";
	struct zs_elf_tls a, b;
	char err[256] = "";

	if (access(full, R_OK) || access(stripped, R_OK)) {
		printf("elfsym: %s or %s missing (scripts/deps.sh test builds them): skipped\n",
		       full, stripped);
		return;
	}
	CHECK(zs_elf_tls_inspect(full, 1, &a, err, sizeof(err)) == 0 && a.go_http, "%s: %s", full,
	      err);
	CHECK(zs_elf_tls_inspect(stripped, 1, &b, err, sizeof(err)) == 0 && b.go_http, "%s: %s",
	      stripped, err);
	CHECK(a.probe[ZS_TLS_SYM_GO_ROUND_TRIP] &&
		      a.probe[ZS_TLS_SYM_GO_ROUND_TRIP] == b.probe[ZS_TLS_SYM_GO_ROUND_TRIP] &&
		      a.probe[ZS_TLS_SYM_GO_WRITE] == b.probe[ZS_TLS_SYM_GO_WRITE],
	      "stripped: the same probes as from the symbol table");
	CHECK(a.blind == ZS_TLS_BLIND_GO && b.blind == ZS_TLS_BLIND_GO, "crypto/tls in both");
}

static void check_errors(void)
{
	struct zs_elf_tls t;
	char err[256] = "";

	CHECK(zs_elf_tls_inspect("/nonexistent/libssl.so.3", 1, &t, err, sizeof(err)) == -1 &&
		      strstr(err, "open"),
	      "missing file: %s", err);
	CHECK(zs_elf_tls_inspect("/etc/hostname", 1, &t, err, sizeof(err)) == -1 &&
		      strstr(err, "not an ELF"),
	      "text file: %s", err);
	CHECK(zs_elf_tls_inspect("/dev/null", 1, &t, err, sizeof(err)) == -1, "empty file");
	CHECK(zs_elf_tls_inspect("/usr/bin/env", 1, &t, err, sizeof(err)) == 0 && t.n_found == 0 &&
		      t.blind == ZS_TLS_BLIND_NONE,
	      "env: %d functions", t.n_found);
}

int main(void)
{
	check_library("libssl.so.3", ZS_TLS_SYM_SSL_WRITE, ZS_TLS_SYM_SSL_READ_EX);
	check_library("libgnutls.so.30", ZS_TLS_SYM_GNUTLS_SEND, ZS_TLS_SYM_GNUTLS_RECV);
	check_loader();
	check_blind();
	check_go_http();
	check_gopclntab_bytes();
	check_go_stripped();
	check_errors();
	return zs_test_done("elfsym");
}
